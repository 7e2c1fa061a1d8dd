import type { SessionRecord } from '@tlsmesh/store'

/** A key and the fingerprint of the version held under it. */
export interface DigestItem {
  key: bigint
  fingerprint: bigint
}

export interface DigestEntry extends DigestItem {
  readonly record: SessionRecord
}

/** What a digest says of a key range: the XOR of its versions' fingerprints, and how many there are. */
export interface RangeSummary {
  fingerprint: bigint
  count: number
}

/**
 * What set reconciliation reads of a realm, by key range: (depth, prefix) is every key whose top
 * `depth * 4` bits are `prefix`. Ranges rather than positions: a live digest keeps changing during a
 * session's round trips (the replica takes records meanwhile), and a position taken before an await
 * would name another record after it. A range read twice may differ; reconciliation tolerates that,
 * as the next one finds a range that changed meanwhile.
 */
export interface KeyRangeDigest {
  range(depth: number, prefix: bigint): RangeSummary
  /** The range's keys and fingerprints, by key. */
  items(depth: number, prefix: bigint): DigestItem[]
  /** The records held under `key` (more than one only on a 64-bit hash collision). */
  recordsWithKey(key: bigint): SessionRecord[]
}

/** The keys of (depth, prefix): [low, high). */
export function keyBounds(depth: number, prefix: bigint): [bigint, bigint] {
  const shift = BigInt(64 - depth * 4)
  return [prefix << shift, (prefix + 1n) << shift]
}

/** The first position in `sorted` (by key), from `start` on, whose key is not below `key`. */
export function lowerBound(sorted: ReadonlyArray<DigestItem>, key: bigint, start = 0): number {
  let lo = start
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]!.key < key) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The records of `sorted` (by key) held under `key`. */
export function recordsAt(sorted: ReadonlyArray<DigestEntry>, key: bigint): SessionRecord[] {
  const found: SessionRecord[] = []
  for (let i = lowerBound(sorted, key); i < sorted.length && sorted[i]!.key === key; i++) {
    found.push(sorted[i]!.record)
  }
  return found
}
