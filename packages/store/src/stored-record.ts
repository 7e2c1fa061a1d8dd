import type { RecordProof, SessionRecord } from './session-record.ts'

/**
 * The replica's own copy of a record. Its id and value share one allocation from Node's Buffer pool
 * (8 KiB slabs for small sizes), detached from the caller's buffers: a decoder's views would keep a
 * whole gossip message alive, and a reused read buffer would change under the replica.
 *
 * `id` and `value` are views made on each read, not fields: two typed arrays per record cost 192
 * bytes of heap and two objects for the garbage collector to mark, nearly as much as the payload
 * itself, in the server's own process at 1,000,000 records. A caller reads each once per use. Being
 * accessors, they are not own properties: `{ ...record }`, `structuredClone` and `Object.keys` see
 * only the other fields, so a copy is built field by field (`plainRecord`).
 */
export class StoredRecord implements SessionRecord {
  readonly realm: string
  readonly created: number
  readonly expires: number
  readonly origin: string
  /** Set once the record's batch is signed, or lent by a duplicate that carries it (see `merge`). */
  proof: RecordProof | undefined
  readonly #buffer: ArrayBufferLike
  readonly #offset: number
  readonly #idLength: number
  /** -1 for a tombstone. */
  readonly #valueLength: number

  constructor(record: SessionRecord) {
    const { id, value } = record
    this.realm = record.realm
    this.created = record.created
    this.expires = record.expires
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

/** A plain object with the record's fields, own properties all (what spreading a plain record gives). */
export function plainRecord(record: SessionRecord): SessionRecord {
  const { realm, id, value, created, expires, origin, proof } = record
  return { realm, id, value, created, expires, origin, proof }
}
