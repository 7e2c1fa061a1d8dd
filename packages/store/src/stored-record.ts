import type { RecordProof, SessionRecord } from './session-record.ts'

/**
 * The replica's own copy of a record. Its id and value share one allocation from Node's Buffer pool
 * (8 KiB slabs for small sizes), detached from the caller's buffers: a decoder's views would keep a
 * whole gossip message alive, and a reused read buffer would change under the replica.
 *
 * `id` and `value` are views made on each read, not fields: two typed arrays per record cost 192
 * bytes of heap and two objects for the garbage collector to mark, nearly as much as the payload
 * itself, in the server's own process at 1,000,000 records. A caller reads each once per use.
 * `created` and `expires` are computed too (see `#createdHigh`). Being accessors, these four are not
 * own properties: `{ ...record }`, `structuredClone` and `Object.keys` see
 * only the other fields, so a copy is built field by field (`plainRecord`).
 */
export class StoredRecord implements SessionRecord {
  readonly realm: string
  readonly origin: string
  /** Set once the record's batch is signed, or lent by a duplicate that carries it (see `merge`). */
  proof: RecordProof | undefined
  readonly #buffer: ArrayBufferLike
  readonly #offset: number
  readonly #idLength: number
  /** -1 for a tombstone. */
  readonly #valueLength: number
  /**
   * `created` and `expires` as two small integers each (TIME_SPLIT): a millisecond time is no small
   * integer, and V8 keeps a field holding one in a heap number of its own, two more objects per
   * record for the garbage collector to mark (and 32 bytes).
   */
  readonly #createdHigh: number
  readonly #createdLow: number
  readonly #expiresHigh: number
  readonly #expiresLow: number

  constructor(record: SessionRecord) {
    const { id, value } = record
    this.realm = record.realm
    this.#createdHigh = Math.floor(record.created / TIME_SPLIT)
    this.#createdLow = record.created - this.#createdHigh * TIME_SPLIT
    this.#expiresHigh = Math.floor(record.expires / TIME_SPLIT)
    this.#expiresLow = record.expires - this.#expiresHigh * TIME_SPLIT
    this.origin = record.origin
    this.proof = record.proof
    const pooled = Buffer.allocUnsafe(id.byteLength + (value?.byteLength ?? 0))
    pooled.set(id, 0)
    if (value !== undefined) pooled.set(value, id.byteLength)
    this.#buffer = pooled.buffer
    this.#offset = pooled.byteOffset
    this.#idLength = id.byteLength
    this.#valueLength = value === undefined ? -1 : value.byteLength
  }

  get created(): number {
    return this.#createdHigh * TIME_SPLIT + this.#createdLow
  }

  get expires(): number {
    return this.#expiresHigh * TIME_SPLIT + this.#expiresLow
  }

  get id(): Uint8Array {
    return new Uint8Array(this.#buffer, this.#offset, this.#idLength)
  }

  get value(): Uint8Array | undefined {
    if (this.#valueLength < 0) return undefined
    return new Uint8Array(this.#buffer, this.#offset + this.#idLength, this.#valueLength)
  }

  /** id and value bytes, without making views. */
  get byteLength(): number {
    return this.#idLength + Math.max(this.#valueLength, 0)
  }
}

/** Milliseconds times split in two below it: both parts small integers for times up to 2^54. */
const TIME_SPLIT = 2 ** 23

/** A plain object with the record's fields, own properties all (what spreading a plain record gives). */
export function plainRecord(record: SessionRecord): SessionRecord {
  const { realm, id, value, created, expires, origin, proof } = record
  return { realm, id, value, created, expires, origin, proof }
}
