import type { SessionRecord } from '@tlsmesh/store'
import {
  type DigestEntry,
  type DigestItem,
  type KeyRangeDigest,
  keyBounds,
  lowerBound,
  type RangeSummary,
  recordsAt,
} from './key-range.ts'
import { hashesOf } from './sync-keys.ts'

/**
 * A realm's records as they were at one instant, sorted by sync key, with prefix XORs so that any
 * range's fingerprint and count cost two binary searches. Built from scratch (copy, hash, sort): the
 * reference that the incremental digest is tested against, and what bench/sync-efficiency.ts times.
 * It never changes, so its positions (`bounds`) stay valid.
 */
export class RealmDigest implements KeyRangeDigest {
  readonly #entries: DigestEntry[] = []
  readonly #prefixXor: bigint[]

  constructor(records: Iterable<SessionRecord>) {
    for (const record of records) this.#entries.push({ ...hashesOf(record), record })
    this.#entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    this.#prefixXor = new Array<bigint>(this.#entries.length + 1)
    let xor = 0n
    this.#prefixXor[0] = 0n
    for (let i = 0; i < this.#entries.length; i++) {
      xor ^= this.#entries[i]!.fingerprint
      this.#prefixXor[i + 1] = xor
    }
  }

  get size(): number {
    return this.#entries.length
  }

  /** Positions [start, end) of the keys of (depth, prefix). */
  bounds(depth: number, prefix: bigint): [number, number] {
    if (depth === 0) return [0, this.#entries.length]
    const [low, high] = keyBounds(depth, prefix)
    const start = lowerBound(this.#entries, low)
    return [start, lowerBound(this.#entries, high, start)]
  }

  fingerprint(start: number, end: number): bigint {
    return this.#prefixXor[end]! ^ this.#prefixXor[start]!
  }

  range(depth: number, prefix: bigint): RangeSummary {
    const [start, end] = this.bounds(depth, prefix)
    return { fingerprint: this.fingerprint(start, end), count: end - start }
  }

  items(depth: number, prefix: bigint): DigestItem[] {
    const [start, end] = this.bounds(depth, prefix)
    return this.#entries.slice(start, end).map(({ key, fingerprint }) => ({ key, fingerprint }))
  }

  recordsWithKey(key: bigint): SessionRecord[] {
    return recordsAt(this.#entries, key)
  }
}
