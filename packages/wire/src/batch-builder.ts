import { SIGNATURE_BYTES, type WireLimits } from './constants.ts'
import { batchHeaderBytes, encodedRecordBytes, largestRecordBytes } from './encoded-size.ts'
import { WireEncodeError } from './errors.ts'
import { encodeValidBatch, type WireRecord } from './record-batch.ts'
import { realmProblem, recordProblem, resolveLimits } from './validation.ts'

/**
 * Collects records of one realm into a batch no larger than `maxMessageBytes` and `maxRecords`,
 * tracking the exact encoded size as it goes so that the mesh can flush at a byte cap and encode once.
 *
 * The limits are the receiving side's: a batch built with limits L always decodes with limits L.
 */
export class BatchBuilder {
  readonly realm: string
  readonly limits: Readonly<WireLimits>
  readonly #records: WireRecord[] = []
  readonly #headerBytes: number
  #bytes: number

  /**
   * Throws WireEncodeError ('invalid-realm') for a bad realm, and a RangeError when `maxMessageBytes`
   * cannot hold one record at the other limits: a record that fits no batch would never be sent.
   */
  constructor(realm: string, limits?: Partial<WireLimits>) {
    this.limits = resolveLimits(limits)
    const problem = realmProblem(realm, this.limits)
    if (problem !== undefined) throw new WireEncodeError('invalid-realm', problem)
    this.realm = realm
    this.#headerBytes = batchHeaderBytes(realm)
    this.#bytes = this.#headerBytes
    const needed = this.#headerBytes + largestRecordBytes(this.limits)
    if (needed > this.limits.maxMessageBytes) {
      throw new RangeError(
        `wire limit maxMessageBytes (${this.limits.maxMessageBytes}) cannot hold one record of the largest allowed size (needs ${needed})`,
      )
    }
  }

  /**
   * Adds the record if the batch has room for it and returns whether it did; a false means "build,
   * reset and add again", which always succeeds on an empty builder. Throws WireEncodeError
   * ('invalid-record') for a record that no peer would accept. The builder keeps the record itself,
   * not a copy: changing it before `build()` would make `size` wrong.
   */
  add(record: WireRecord): boolean {
    const problem = recordProblem(record, this.limits)
    if (problem !== undefined) throw new WireEncodeError('invalid-record', problem)
    if (this.#records.length >= this.limits.maxRecords) return false
    const bytes = encodedRecordBytes(record)
    if (this.#bytes + bytes > this.limits.maxMessageBytes) return false
    this.#records.push(record)
    this.#bytes += bytes
    return true
  }

  /** The exact length `build()` would return now. */
  get size(): number {
    return this.#bytes
  }

  get count(): number {
    return this.#records.length
  }

  /** The records added since the last reset, in order: what the origin's signature covers. */
  get records(): readonly WireRecord[] {
    return this.#records
  }

  /**
   * Encodes the records added since the last reset with their origin's signature (`SIGNATURE_BYTES`,
   * over `manifestBytes`); the builder keeps them until `reset()`.
   */
  build(signature: Uint8Array): Uint8Array {
    if (signature.byteLength !== SIGNATURE_BYTES) {
      throw new WireEncodeError('invalid-record', `a signature is ${SIGNATURE_BYTES} bytes`)
    }
    return encodeValidBatch(this.realm, this.#records, signature)
  }

  reset(): void {
    this.#records.length = 0
    this.#bytes = this.#headerBytes
  }
}
