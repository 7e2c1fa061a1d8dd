// A libp2p private-network connection protector, wire-compatible with `@libp2p/pnet`, on
// `@noble/ciphers`. pnet 3.0.27 encrypts with the `xsalsa20` package, one WebAssembly memory per
// process (640 KiB, growable to 64 MiB) shared by every cipher. pnet never calls `finalize()`, so each
// connection keeps two 64-byte slots of it for good; and the first update larger than what is left
// (a 1 MiB write does it at once; ~5,100 leaked connections make any write do it) grows the memory,
// which detaches every other cipher's cached view, whose next update grows it again: within a few
// hundred updates it hits the limit and an uncaught RangeError kills the process
// (scripts/soak/pnet-leak-repro.ts reproduces it). Here each connection owns two small JavaScript
// keystream states that go away with it.
import type {
  AbortOptions,
  ConnectionProtector,
  MultiaddrConnection,
  StreamMessageEvent,
} from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream, type SendResult } from '@libp2p/utils'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { parseMeshKey } from './mesh-key.ts'
import { type PreKeyAdmission, PreKeyRefusedError, type PreKeyTicket } from './pre-key-admission.ts'

/** XSalsa20 nonce length; each side of a connection picks its own at random. */
export const PRIVATE_NETWORK_NONCE_BYTES = 24
export const PRIVATE_NETWORK_KEY_BYTES = 32
/** pnet's default: bounds the nonce exchange when the caller gives no signal. */
export const DEFAULT_PRIVATE_NETWORK_TIMEOUT_MS = 1000

const BLOCK_BYTES = 64
/**
 * noble takes a 32-bit block counter and throws at 2^32 - 1 (its MAX_COUNTER), where pnet's
 * `xsalsa20` carries into a 64-bit one: past 256 GiB in one direction the two would disagree, so the
 * connection is closed instead (libp2p redials). At 10 MB/s that is ~7 hours of one connection.
 */
const MAX_BLOCKS = 2 ** 32 - 1

/**
 * The first bytes every libp2p peer (js and go) sends over a protected connection: the
 * multistream-select header, length-prefixed (0x13 = 19 bytes). Decrypted with the wrong key they are
 * garbage, which lets a key mismatch fail at once instead of at the dial or upgrade timeout.
 */
const MULTISTREAM_HEADER = new TextEncoder().encode('\x13/multistream/1.0.0\n')

export type PrivateNetworkErrorCode = 'handshake-failed' | 'key-mismatch' | 'keystream-exhausted'

/** The nonce exchange did not complete: the peer closed before sending 24 bytes, or went silent. */
export class PrivateNetworkHandshakeError extends Error {
  static override name = 'PrivateNetworkHandshakeError'
  override name = 'PrivateNetworkHandshakeError'
  readonly code: PrivateNetworkErrorCode = 'handshake-failed'
}

/** What the peer sent does not decrypt to a multistream-select header: it has another mesh key. */
export class PrivateNetworkKeyMismatchError extends Error {
  static override name = 'PrivateNetworkKeyMismatchError'
  override name = 'PrivateNetworkKeyMismatchError'
  readonly code: PrivateNetworkErrorCode = 'key-mismatch'
}

/** One direction of a connection used up its 2^32 keystream blocks (see MAX_BLOCKS). */
export class KeystreamExhaustedError extends Error {
  static override name = 'KeystreamExhaustedError'
  override name = 'KeystreamExhaustedError'
  readonly code: PrivateNetworkErrorCode = 'keystream-exhausted'
}

/** What message events carry: a Uint8Array or a Uint8ArrayList (iterable over its chunks). */
type Bytes = Uint8Array | (Iterable<Uint8Array> & { readonly byteLength: number })

/** Keystream made ahead at once for chunks smaller than it (32 blocks). */
const KEYSTREAM_AHEAD_BYTES = 2048

/**
 * XSalsa20 as one continuous keystream over successive chunks, the way pnet's `xsalsa20` ciphers
 * behave: noble works on whole 64-byte blocks from a given counter.
 *
 * Each noble call derives the subkey and sets up its state, about 2.4 us here, as much as 600 bytes
 * of keystream: a connection's chunks are mostly small (yamux headers and window updates, acks,
 * single frames), and a 100-byte chunk cost 5 us. So the keystream is made KEYSTREAM_AHEAD_BYTES at
 * a time and small chunks XOR from it; a chunk larger than that is XORed by noble in place, in whole
 * blocks, once what is left of the run ahead is used.
 */
export class XSalsa20Stream {
  readonly #key: Uint8Array
  readonly #nonce: Uint8Array
  /** Index of the next block noble has not produced yet. */
  #counter: number
  /** Keystream of the blocks before #counter; bytes from #offset to #end are not used yet. */
  readonly #ahead = new Uint8Array(KEYSTREAM_AHEAD_BYTES)
  readonly #aheadWords = new Uint32Array(this.#ahead.buffer)
  #offset = 0
  #end = 0

  constructor(key: Uint8Array, nonce: Uint8Array, initialBlock = 0) {
    if (key.byteLength !== PRIVATE_NETWORK_KEY_BYTES) throw new RangeError('XSalsa20 key must be 32 bytes')
    if (nonce.byteLength !== PRIVATE_NETWORK_NONCE_BYTES)
      throw new RangeError('XSalsa20 nonce must be 24 bytes')
    this.#key = Uint8Array.from(key)
    this.#nonce = Uint8Array.from(nonce)
    this.#counter = initialBlock
  }

  /** XORs `input` with the next `input.byteLength` keystream bytes, into a new array. */
  update(input: Bytes): Uint8Array {
    const length = input.byteLength
    const left = this.#end - this.#offset
    if (length > left && this.#counter + Math.ceil((length - left) / BLOCK_BYTES) > MAX_BLOCKS) {
      throw new KeystreamExhaustedError('private network: 2^32 keystream blocks used in one direction')
    }
    // The output starts `lead` bytes into a fresh buffer so that keystream block boundaries fall on
    // multiples of 64 in it: noble's 4-byte-aligned fast path then applies, and it XORs in place.
    const lead = this.#offset % BLOCK_BYTES
    const buffer = new Uint8Array(lead + length)
    if (input instanceof Uint8Array) {
      buffer.set(input, lead)
    } else {
      let at = lead
      for (const chunk of input) {
        buffer.set(chunk, at)
        at += chunk.byteLength
      }
    }
    let pos = this.#xorAhead(buffer, lead)
    const wholeBlocks = Math.floor((buffer.length - pos) / BLOCK_BYTES)
    if (buffer.length - pos > KEYSTREAM_AHEAD_BYTES) {
      // Nothing ahead is left here: `pos` is on a block boundary.
      const whole = buffer.subarray(pos, pos + wholeBlocks * BLOCK_BYTES)
      xsalsa20(this.#key, this.#nonce, whole, whole, this.#counter)
      this.#counter += wholeBlocks
      pos += whole.byteLength
    }
    if (pos < buffer.length) {
      this.#makeAhead()
      pos = this.#xorAhead(buffer, pos)
    }
    return buffer.subarray(lead)
  }

  /** XORs the bytes ahead into `buffer` from `pos`, as many as both have; returns where it stopped. */
  #xorAhead(buffer: Uint8Array, pos: number): number {
    const ahead = this.#ahead
    const stop = pos + Math.min(buffer.length - pos, this.#end - this.#offset)
    // `pos` and #offset are equal modulo 64 (the lead), so once one is on a 4-byte boundary both
    // are, and the middle goes a word at a time.
    let at = this.#offset
    for (; pos < stop && (pos & 3) !== 0; pos++, at++)
      buffer[pos] = (buffer[pos] as number) ^ (ahead[at] as number)
    const words = (stop - pos) >> 2
    if (words >= 8) {
      const into = new Uint32Array(buffer.buffer, buffer.byteOffset + pos, words)
      const from = this.#aheadWords
      const first = at >> 2
      for (let i = 0; i < words; i++) into[i] = (into[i] as number) ^ (from[first + i] as number)
      pos += words * 4
      at += words * 4
    }
    for (; pos < stop; pos++, at++) buffer[pos] = (buffer[pos] as number) ^ (ahead[at] as number)
    this.#offset = at
    return stop
  }

  /** The next blocks' keystream, as many as fit ahead and the counter allows (update checked it). */
  #makeAhead(): void {
    const blocks = Math.min(KEYSTREAM_AHEAD_BYTES / BLOCK_BYTES, MAX_BLOCKS - this.#counter)
    const ahead = this.#ahead.subarray(0, blocks * BLOCK_BYTES)
    ahead.fill(0)
    xsalsa20(this.#key, this.#nonce, ahead, ahead, this.#counter)
    this.#counter += blocks
    this.#offset = 0
    this.#end = ahead.byteLength
  }
}

interface PrivateNetworkStreamInit {
  maConn: MultiaddrConnection
  psk: Uint8Array
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  expectMultistreamHeader: boolean
  /** An inbound connection's place among the unproven ones, left once the header checks out. */
  ticket: PreKeyTicket | undefined
  log: MultiaddrConnection['log']
}

/**
 * The encrypted connection handed to the rest of the upgrade (security, muxer), mirroring pnet's
 * `BoxMessageStream`: it wraps the transport's MultiaddrConnection, decrypts its `message` events and
 * encrypts what is sent; close, reset, pause and drain pass through.
 */
class PrivateNetworkStream extends AbstractMultiaddrConnection {
  readonly #maConn: MultiaddrConnection
  readonly #inbound: XSalsa20Stream
  readonly #outbound: XSalsa20Stream
  /** How many bytes of MULTISTREAM_HEADER are still to be checked; 0 once checked or disabled. */
  #headerToCheck: number
  readonly #ticket: PreKeyTicket | undefined

  constructor(init: PrivateNetworkStreamInit) {
    super({ log: init.log, remoteAddr: init.maConn.remoteAddr, direction: init.maConn.direction })
    this.#maConn = init.maConn
    this.#inbound = new XSalsa20Stream(init.psk, init.remoteNonce)
    this.#outbound = new XSalsa20Stream(init.psk, init.localNonce)
    this.#headerToCheck = init.expectMultistreamHeader ? MULTISTREAM_HEADER.byteLength : 0
    this.#ticket = init.ticket
    // Without a header to check, the nonce exchange is all the proof there is.
    if (this.#headerToCheck === 0) this.#ticket?.proven()

    this.#maConn.addEventListener('message', (evt: StreamMessageEvent) => {
      // A throw inside an event listener would be an uncaught exception: turn it into an abort.
      let plain: Uint8Array
      try {
        plain = this.#inbound.update(evt.data)
      } catch (err) {
        this.abort(err as Error)
        return
      }
      if (this.#headerToCheck > 0) {
        if (!this.#checkHeader(plain)) {
          this.#ticket?.release('key-mismatch')
          this.abort(new PrivateNetworkKeyMismatchError('private network: the peer uses another key'))
          return
        }
        if (this.#headerToCheck === 0) this.#ticket?.proven()
      }
      this.onData(plain)
    })
    // resume sending when the transport can take more
    this.#maConn.addEventListener('drain', () => {
      this.onMuxerDrain()
    })
    this.#maConn.addEventListener('close', (evt) => {
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
  }

  /** Compares the first decrypted bytes with the header every libp2p peer sends first. */
  #checkHeader(plain: Uint8Array): boolean {
    const from = MULTISTREAM_HEADER.byteLength - this.#headerToCheck
    const count = Math.min(this.#headerToCheck, plain.byteLength)
    for (let i = 0; i < count; i++) {
      if (plain[i] !== MULTISTREAM_HEADER[from + i]) return false
    }
    this.#headerToCheck -= count
    return true
  }

  override async sendClose(options?: AbortOptions): Promise<void> {
    await this.#maConn.close(options)
  }

  override sendData(data: Bytes): SendResult {
    // A throw here (keystream exhausted) makes processSendQueue abort the stream.
    return { sentBytes: data.byteLength, canSendMore: this.#maConn.send(this.#outbound.update(data)) }
  }

  override sendReset(err: Error): void {
    this.#maConn.abort(err)
  }

  override sendPause(): void {
    this.#maConn.pause()
  }

  override sendResume(): void {
    this.#maConn.resume()
  }
}

export interface PrivateNetworkInit {
  /** The mesh key file's contents (the go/js-libp2p swarm.key format; see `parseMeshKey`). */
  psk: Uint8Array | string
  /** Bounds the nonce exchange when `protect` gets no signal (libp2p's upgrader always passes one). */
  timeout?: number
  /**
   * Close a connection as soon as its first decrypted bytes are not a multistream-select header
   * (another key) instead of waiting for the upgrade timeout. Default true: libp2p always negotiates
   * the security protocol with multistream-select right after the private-network handshake.
   */
  expectMultistreamHeader?: boolean
  /**
   * Bounds inbound connections until they prove the key (their nonce, then a first message that
   * decrypts to the multistream-select header): see pre-key-admission.ts. Absent: no bound but the
   * upgrade's own timeout.
   */
  admission?: PreKeyAdmission
}

/** Decodes the 32-byte key from a mesh key file (checked by `parseMeshKey`). */
export function decodePrivateNetworkKey(contents: Uint8Array | string): Uint8Array {
  const normalised = new TextDecoder().decode(parseMeshKey(contents))
  const hex = normalised.split('\n')[2] ?? ''
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

class PrivateNetworkProtector implements ConnectionProtector {
  readonly #psk: Uint8Array
  readonly #timeout: number
  readonly #expectMultistreamHeader: boolean
  readonly #admission: PreKeyAdmission | undefined

  constructor(init: PrivateNetworkInit) {
    this.#psk = decodePrivateNetworkKey(init.psk)
    this.#timeout = init.timeout ?? DEFAULT_PRIVATE_NETWORK_TIMEOUT_MS
    this.#expectMultistreamHeader = init.expectMultistreamHeader ?? true
    this.#admission = init.admission
  }

  readonly [Symbol.toStringTag] = '@tlsmesh/private-network'

  // Same handshake as pnet: both sides send a random 24-byte nonce at once, then everything is
  // XSalsa20(psk, own nonce) outbound and XSalsa20(psk, peer's nonce) inbound.
  async protect(connection: MultiaddrConnection, options?: AbortOptions): Promise<MultiaddrConnection> {
    const log = connection.log.newScope('pnet')
    // Dropping a connection aborts the transport; its close (whatever the cause) frees the place.
    const ticket =
      connection.direction === 'inbound'
        ? this.#admission?.admit(connection.remoteAddr.getComponents()[0]?.value ?? '', (err) =>
            connection.abort(err),
          )
        : undefined
    if (ticket !== undefined) connection.addEventListener('close', () => ticket.release(), { once: true })
    const localNonce = crypto.getRandomValues(new Uint8Array(PRIVATE_NETWORK_NONCE_BYTES))
    // pnet applies its timeout only when given no options at all; here also when given no signal.
    const signal = options?.signal ?? AbortSignal.timeout(this.#timeout)
    const bytes = byteStream(connection)
    let remoteNonce: Uint8Array
    try {
      const [received] = await Promise.all([
        bytes.read({ bytes: PRIVATE_NETWORK_NONCE_BYTES, signal }),
        bytes.write(localNonce, { signal }),
      ])
      remoteNonce = received.subarray()
    } catch (err) {
      // The upgrader aborts the transport connection on any error thrown here. The caller's own
      // abort or timeout, and a drop before the key, stay what they are (told apart by name).
      ticket?.release()
      if (options?.signal?.aborted === true || err instanceof PreKeyRefusedError) throw err
      throw new PrivateNetworkHandshakeError(
        `private network: nonce exchange failed (${(err as Error).name ?? 'Error'})`,
        { cause: err },
      )
    }
    log('exchanged nonces')
    return new PrivateNetworkStream({
      maConn: bytes.unwrap() as MultiaddrConnection,
      psk: this.#psk,
      localNonce,
      remoteNonce,
      expectMultistreamHeader: this.#expectMultistreamHeader,
      ticket,
      log,
    })
  }
}

/**
 * A drop-in for `preSharedKey` from `@libp2p/pnet` (libp2p's `connectionProtector` option takes a
 * factory): same key file, same handshake, same bytes on the wire, so nodes on either can mix.
 */
export function createPrivateNetworkProtector(init: PrivateNetworkInit): () => ConnectionProtector {
  // Decode once, up front, so that a bad key fails at configuration time.
  decodePrivateNetworkKey(init.psk)
  return () => new PrivateNetworkProtector(init)
}
