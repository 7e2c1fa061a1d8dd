import type { SessionRecord } from '@tlsmesh/store'
import { ExpiryQueue } from './expiry-queue.ts'
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

/** Keys are sha256 prefixes, so their top 12 bits (3 nibbles) spread records evenly over 4,096 buckets. */
const BUCKET_DEPTH = 3
const BUCKET_SHIFT = BigInt(64 - BUCKET_DEPTH * 4)

interface LiveEntry extends DigestEntry {
  queueIndex: number
}

/**
 * A realm's digest kept up to date as records come and go (`add`, `remove`), so that no query copies,
 * hashes or sorts the realm. Entries sit in 4,096 buckets by their keys' top 12 bits, each sorted by
 * key, and every range of depth 0 to 3 (all keys, 16, 256 or 4,096 buckets) has its fingerprint and
 * count kept beside them: a change costs a binary search, a move within one bucket (n / 4,096
 * entries) and four XORs; a deeper range is read within its bucket.
 *
 * Every read (and add) first drops the records that have expired by `now()`: the replica purges expired
 * records only when it meets them or prunes, and two replicas that purge at different times would
 * otherwise disagree, and send each other records that the other side refuses as expired.
 */
export class IncrementalDigest implements KeyRangeDigest {
  readonly #now: () => number
  readonly #buckets: LiveEntry[][] = Array.from({ length: 16 ** BUCKET_DEPTH }, () => [])
  /** Per depth 0..3, per prefix: the XOR of the fingerprints under it, and how many. */
  readonly #xors = Array.from({ length: BUCKET_DEPTH + 1 }, (_, depth) =>
    new Array<bigint>(16 ** depth).fill(0n),
  )
  readonly #counts = Array.from({ length: BUCKET_DEPTH + 1 }, (_, depth) => new Int32Array(16 ** depth))
  readonly #expiry = new ExpiryQueue<LiveEntry>()

  constructor(now: () => number) {
    this.#now = now
  }

  /** Records held, expired ones included until the next read drops them. */
  get size(): number {
    return this.#counts[0]![0]!
  }

  add(record: SessionRecord): void {
    // Records expire about as fast as they come: dropping them here spreads that work over arrivals.
    this.#dropExpired()
    const { key, fingerprint } = hashesOf(record)
    const entry: LiveEntry = { key, fingerprint, record, queueIndex: -1 }
    const bucket = bucketOf(key)
    const entries = this.#buckets[bucket]!
    // After any equal key: a collision's records keep the order they came in.
    entries.splice(lowerBound(entries, key + 1n), 0, entry)
    this.#account(bucket, fingerprint, 1)
    this.#expiry.add(entry)
  }

  /** Takes `record` out, if held (it may have been dropped as expired already). */
  remove(record: SessionRecord): void {
    const { key } = hashesOf(record)
    const bucket = bucketOf(key)
    const entries = this.#buckets[bucket]!
    for (let i = lowerBound(entries, key); i < entries.length && entries[i]!.key === key; i++) {
      const entry = entries[i]!
      if (entry.record !== record) continue
      entries.splice(i, 1)
      this.#account(bucket, entry.fingerprint, -1)
      this.#expiry.remove(entry)
      return
    }
  }

  range(depth: number, prefix: bigint): RangeSummary {
    this.#dropExpired()
    if (depth <= BUCKET_DEPTH) {
      const at = Number(prefix)
      return { fingerprint: this.#xors[depth]![at] ?? 0n, count: this.#counts[depth]![at] ?? 0 }
    }
    const [entries, start, end] = this.#within(depth, prefix)
    let fingerprint = 0n
    for (let i = start; i < end; i++) fingerprint ^= entries[i]!.fingerprint
    return { fingerprint, count: end - start }
  }

  items(depth: number, prefix: bigint): DigestItem[] {
    this.#dropExpired()
    const items: DigestItem[] = []
    if (depth <= BUCKET_DEPTH) {
      const span = 16 ** (BUCKET_DEPTH - depth)
      const first = Number(prefix) * span
      for (const entries of this.#buckets.slice(first, first + span)) {
        for (const { key, fingerprint } of entries) items.push({ key, fingerprint })
      }
      return items
    }
    const [entries, start, end] = this.#within(depth, prefix)
    for (let i = start; i < end; i++)
      items.push({ key: entries[i]!.key, fingerprint: entries[i]!.fingerprint })
    return items
  }

  recordsWithKey(key: bigint): SessionRecord[] {
    this.#dropExpired()
    return recordsAt(this.#buckets[bucketOf(key)]!, key)
  }

  #dropExpired(): void {
    for (const entry of this.#expiry.takeExpired(this.#now())) this.remove(entry.record)
  }

  /** The bucket of a range deeper than a bucket, and the range's positions [start, end) in it. */
  #within(depth: number, prefix: bigint): [LiveEntry[], number, number] {
    const [low, high] = keyBounds(depth, prefix)
    const entries = this.#buckets[bucketOf(low)] ?? []
    const start = lowerBound(entries, low)
    return [entries, start, lowerBound(entries, high, start)]
  }

  #account(bucket: number, fingerprint: bigint, count: number): void {
    for (let depth = 0; depth <= BUCKET_DEPTH; depth++) {
      const at = bucket >> (4 * (BUCKET_DEPTH - depth))
      const xors = this.#xors[depth]!
      const counts = this.#counts[depth]!
      xors[at] = xors[at]! ^ fingerprint
      counts[at] = counts[at]! + count
    }
  }
}

function bucketOf(key: bigint): number {
  return Number(key >> BUCKET_SHIFT)
}
