import { inspect } from 'node:util'
import {
  NODE_TICKET_KEYS_BYTES,
  PERIOD_ID_BYTES,
  TICKET_KEY_BYTES,
  TICKET_KEY_NAME_BYTES,
} from './constants.ts'
import { InvalidTicketKeyError } from './errors.ts'

/*
 * One key, three layouts of the same 80 random bytes. The record holds nginx's 80-byte layout; each
 * server gets its own, with every byte keeping its role, so two kinds of server in one realm agree
 * on the name, the HMAC key and the AES key:
 *
 *   record / nginx (80):  name[0,16)  hmac[16,48)  aes[48,80)          AES-256-CBC, HMAC-SHA256
 *   HAProxy (80):         name         aes          hmac               (struct tls_sess_key_256)
 *   Node (48):            name         hmac[16,32)  aes[48,64)         AES-128-CBC, HMAC-SHA256
 *
 * Node's `ticketKeys` is name | HMAC key | AES key of 16 bytes each (node_crypto SetTicketKeys): its
 * HMAC key is the first half of the record's HMAC key and its AES key the first half of the
 * record's AES key. Halves of uniformly random keys are uniformly random keys. (nginx's own 48-byte
 * files put the AES key before the HMAC key, so a Node server and an nginx server do not share
 * tickets: one uses AES-128, the other AES-256 with 80-byte files.)
 */

const HMAC_OFFSET = TICKET_KEY_NAME_BYTES
const AES_OFFSET = TICKET_KEY_NAME_BYTES + 32
const NODE_HALF = 16

/**
 * A ticket key of one rotation period. `material` is secret: `toJSON` and `util.inspect` leave it
 * out, so logging a key by mistake prints its name (public: every ticket starts with it) and times.
 */
export class TicketKey {
  /** The rotation period it encrypts in. */
  readonly period: number
  /** 16 bytes, sent in the clear in every ticket; identifies the key, reveals nothing of it. */
  readonly name: Uint8Array
  /** 80 bytes, nginx's layout (see above). Never log it. */
  readonly material: Uint8Array
  /** Encrypts from `encryptFrom` (the period's start) until `encryptUntil` (the next one's). */
  readonly encryptFrom: number
  readonly encryptUntil: number
  /** Decrypts until then, and is forgotten after. */
  readonly decryptUntil: number
  /** When it was proposed, and by which node (the merge rule's inputs). */
  readonly created: number
  readonly origin: string

  constructor(init: {
    period: number
    material: Uint8Array
    encryptFrom: number
    encryptUntil: number
    decryptUntil: number
    created: number
    origin: string
  }) {
    assertKeyMaterial(init.material)
    this.period = init.period
    this.material = init.material
    this.name = init.material.subarray(0, TICKET_KEY_NAME_BYTES)
    this.encryptFrom = init.encryptFrom
    this.encryptUntil = init.encryptUntil
    this.decryptUntil = init.decryptUntil
    this.created = init.created
    this.origin = init.origin
  }

  /** The name as 32 hex digits: what `tlsmesh status` shows and `openssl s_client` prints. */
  get nameHex(): string {
    return view(this.name).toString('hex')
  }

  /** Whether two keys are the same key (same bytes), whatever their record metadata. */
  sameKey(other: TicketKey): boolean {
    return view(this.material).equals(other.material)
  }

  toJSON(): Record<string, unknown> {
    return {
      period: this.period,
      name: this.nameHex,
      encryptFrom: this.encryptFrom,
      encryptUntil: this.encryptUntil,
      decryptUntil: this.decryptUntil,
      created: this.created,
      origin: this.origin,
    }
  }

  [inspect.custom](): string {
    return `TicketKey ${inspect(this.toJSON())}`
  }
}

export function assertKeyMaterial(material: Uint8Array): void {
  if (material.byteLength !== TICKET_KEY_BYTES) {
    throw new InvalidTicketKeyError(
      `key material: expected ${TICKET_KEY_BYTES} bytes, got ${material.byteLength}`,
    )
  }
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The 48 bytes for Node's `server.setTicketKeys()` / the `ticketKeys` option. */
export function nodeTicketKeys(key: TicketKey): Buffer {
  const out = Buffer.alloc(NODE_TICKET_KEYS_BYTES)
  out.set(key.material.subarray(0, TICKET_KEY_NAME_BYTES), 0)
  out.set(key.material.subarray(HMAC_OFFSET, HMAC_OFFSET + NODE_HALF), TICKET_KEY_NAME_BYTES)
  out.set(key.material.subarray(AES_OFFSET, AES_OFFSET + NODE_HALF), TICKET_KEY_NAME_BYTES + NODE_HALF)
  return out
}

/** The 80 bytes of an nginx `ssl_session_ticket_key` file (a copy). */
export function nginxTicketKeyFile(key: TicketKey): Buffer {
  return Buffer.from(key.material)
}

/** One line of an HAProxy `tls-ticket-keys` file: base64 of name | AES key | HMAC key. */
export function haproxyTicketKeyLine(key: TicketKey): string {
  const out = Buffer.alloc(TICKET_KEY_BYTES)
  out.set(key.material.subarray(0, TICKET_KEY_NAME_BYTES), 0)
  out.set(key.material.subarray(AES_OFFSET), TICKET_KEY_NAME_BYTES)
  out.set(key.material.subarray(HMAC_OFFSET, AES_OFFSET), TICKET_KEY_NAME_BYTES + 32)
  return out.toString('base64')
}

/** The record id of a period: its number, 8 bytes big-endian. */
export function periodId(period: number): Uint8Array {
  if (!Number.isSafeInteger(period) || period < 0) {
    throw new InvalidTicketKeyError(`period: expected a safe integer >= 0, got ${period}`)
  }
  const id = new Uint8Array(PERIOD_ID_BYTES)
  new DataView(id.buffer).setBigUint64(0, BigInt(period))
  return id
}

/** The period of a record id, or undefined if it is not one. */
export function periodOfId(id: Uint8Array): number | undefined {
  if (id.byteLength !== PERIOD_ID_BYTES) return undefined
  const value = new DataView(id.buffer, id.byteOffset, id.byteLength).getBigUint64(0)
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined
}
