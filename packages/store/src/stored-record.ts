import type { RecordProof, SessionRecord } from './session-record.ts'

/** Who a stored record belongs to: one object per realm and origin, shared by all their records. */
export interface RecordOwner {
  readonly realm: string
  readonly origin: string
}

/**
 * The replica's own copy of a record, laid out for a replica of 1,000,000 records in the server's own
 * process, where each field costs 8 bytes of heap and each object one more mark for the garbage
 * collector:
 * - its id lives only in `key`, the latin1 string (one char per byte) that the realm's cache is keyed
 *   by, and `id` makes bytes of it on each read: a second copy cost 32 bytes a TLS session;
 * - its value shares one allocation from Node's Buffer pool (8 KiB slabs for small sizes), detached
 *   from the caller's buffers: a decoder's views would keep a whole gossip message alive, and a
 *   reused read buffer would change under the replica. `value` makes a view of it on each read: a
 *   typed array per record costs 96 bytes and an object;
 * - realm and origin come from one owner shared by every record of that realm and origin, one
 *   field where two cost 16 bytes;
 * - `created` is kept as two small integers (TIME_SPLIT), and `expires` as the lifetime after it,
 *   one: a millisecond time is no small integer, and V8 keeps a field holding one in a heap number
 *   of its own, another object per record (a lifetime past 2^31 ms, 24 days, gets one).
 * All of these are accessors, not own properties: `{ ...record }`, `structuredClone` and
 * `Object.keys` see only `proof`, so a copy is built field by field (`plainRecord`).
 */
export class StoredRecord implements SessionRecord {
  /** Set once the record's batch is signed, or lent by a duplicate that carries it (see `merge`). */
  proof: RecordProof | undefined
  readonly #owner: RecordOwner
  readonly #key: string
  readonly #buffer: ArrayBufferLike
  readonly #offset: number
  /** -1 for a tombstone. */
  readonly #valueLength: number
  readonly #createdHigh: number
  readonly #createdLow: number
  readonly #lifetime: number

  /** `owner` and `key` are the store's (see `idKey`); they default to the record's own. */
  constructor(
    record: SessionRecord,
    owner: RecordOwner = { realm: record.realm, origin: record.origin },
    key: string = idKey(record.id),
  ) {
    const { value } = record
    this.#owner = owner
    this.#key = key
    this.#createdHigh = Math.floor(record.created / TIME_SPLIT)
    this.#createdLow = record.created - this.#createdHigh * TIME_SPLIT
    this.#lifetime = record.expires - record.created
    this.proof = record.proof
    const pooled = Buffer.allocUnsafe(value?.byteLength ?? 0)
    if (value !== undefined) pooled.set(value)
    this.#buffer = pooled.buffer
    this.#offset = pooled.byteOffset
    this.#valueLength = value === undefined ? -1 : value.byteLength
  }

  get realm(): string {
    return this.#owner.realm
  }

  get origin(): string {
    return this.#owner.origin
  }

  /** The id as the realm's cache keys it (`idKey`). */
  get key(): string {
    return this.#key
  }

  get created(): number {
    return this.#createdHigh * TIME_SPLIT + this.#createdLow
  }

  get expires(): number {
    return this.#createdHigh * TIME_SPLIT + this.#createdLow + this.#lifetime
  }

  /**
   * A copy, made on each read, in Node's shared allocation pool (a fresh Uint8Array of its own costs
   * about 3x as much): for passing on, not for keeping, since it holds on to its 8 KB pool slab.
   */
  get id(): Uint8Array {
    const copy = Buffer.from(this.#key, 'latin1')
    return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength)
  }

  get value(): Uint8Array | undefined {
    if (this.#valueLength < 0) return undefined
    return new Uint8Array(this.#buffer, this.#offset, this.#valueLength)
  }

  /** id and value bytes, without making views. */
  get byteLength(): number {
    return this.#key.length + Math.max(this.#valueLength, 0)
  }
}

/** Milliseconds times split in two below it: both parts small integers for times up to 2^54. */
const TIME_SPLIT = 2 ** 23

/**
 * The latin1 string of an id, one char per byte, so that distinct ids are distinct keys (TextDecoder's
 * 'latin1' is windows-1252, which is not one to one).
 */
export function idKey(id: Uint8Array): string {
  return String.fromCharCode.apply(null, id as unknown as number[])
}

/** A plain object with the record's fields, own properties all (what spreading a plain record gives). */
export function plainRecord(record: SessionRecord): SessionRecord {
  const { realm, id, value, created, expires, origin, proof } = record
  return { realm, id, value, created, expires, origin, proof }
}
