import type { SessionRecord } from '@tlsmesh/store'
import { ExpiryQueue, grown } from './expiry-queue.ts'
import type { DigestItem, KeyRangeDigest, RangeSummary } from './key-range.ts'
import { writeHashes } from './sync-keys.ts'

/** Keys are sha256 prefixes, so their top 12 bits (3 nibbles) spread records evenly over 4,096 buckets. */
const BUCKET_DEPTH = 3
const BUCKET_BITS = 4 * BUCKET_DEPTH
const BUCKETS = 1 << BUCKET_BITS
/** Words per slot in `#hashes`: key high, key low, fingerprint high, fingerprint low. */
const WORDS = 4
const TWO_32 = 2 ** 32

/**
 * A realm's digest kept up to date as records come and go (`add`, `remove`), so that no query copies,
 * hashes or sorts the realm. Entries sit in 4,096 buckets by their keys' top 12 bits, each sorted by
 * key, and every range of depth 0 to 3 (all keys, 16, 256 or 4,096 buckets) has its fingerprint and
 * count kept beside them: a change costs a binary search, a move within one bucket (n / 4,096
 * entries) and four XORs; a deeper range is read within its bucket.
 *
 * Each record held has a slot: its key and fingerprint as 32-bit words in one typed array, the record
 * in an array beside it; buckets and the expiry queue list slots. That is about 40 bytes a record and
 * no object of its own, where an object per entry with BigInt hashes cost about 200 bytes and four
 * objects for the garbage collector to mark, at 1,000,000 records in the server's own process.
 * BigInts appear only in what a query returns.
 *
 * Every read (and add) first drops the records that have expired by `now()`: the replica purges expired
 * records only when it meets them or prunes, and two replicas that purge at different times would
 * otherwise disagree, and send each other records that the other side refuses as expired.
 */
export class IncrementalDigest implements KeyRangeDigest {
  readonly #now: () => number
  /** By slot: the key and fingerprint words (WORDS per slot), and the record (undefined when free). */
  #hashes = new Uint32Array(WORDS * 64)
  readonly #records: Array<SessionRecord | undefined> = []
  readonly #freeSlots: number[] = []
  /** By bucket: its slots sorted by key (records with equal keys in the order they came), and how many. */
  readonly #buckets: Int32Array[] = Array.from({ length: BUCKETS }, () => new Int32Array(0))
  readonly #bucketSizes = new Int32Array(BUCKETS)
  /** Per depth 0..3, per prefix: the XOR of the fingerprints under it (high and low words), and how many. */
  readonly #xorHi = Array.from({ length: BUCKET_DEPTH + 1 }, (_, depth) => new Uint32Array(16 ** depth))
  readonly #xorLo = Array.from({ length: BUCKET_DEPTH + 1 }, (_, depth) => new Uint32Array(16 ** depth))
  readonly #counts = Array.from({ length: BUCKET_DEPTH + 1 }, (_, depth) => new Int32Array(16 ** depth))
  readonly #expiry = new ExpiryQueue((slot) => this.#records[slot]!.expires)
  readonly #scratch = new Uint32Array(WORDS)

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
    const slot = this.#allocate(record)
    const hashes = this.#hashes
    writeHashes(record, hashes, slot * WORDS)
    const hi = hashes[slot * WORDS]!
    const lo = hashes[slot * WORDS + 1]!
    const bucket = hi >>> (32 - BUCKET_BITS)
    // After any equal key: a collision's records keep the order they came in.
    this.#insert(bucket, this.#upperBound(bucket, hi, lo), slot)
    this.#account(bucket, slot, 1)
    this.#expiry.add(slot)
  }

  /** Takes `record` out, if held (it may have been dropped as expired already). */
  remove(record: SessionRecord): void {
    writeHashes(record, this.#scratch, 0)
    const [bucket, start, end] = this.#withKey(this.#scratch[0]!, this.#scratch[1]!)
    const slots = this.#buckets[bucket]!
    for (let at = start; at < end; at++) {
      if (this.#records[slots[at]!] !== record) continue
      this.#removeAt(bucket, at)
      return
    }
  }

  range(depth: number, prefix: bigint): RangeSummary {
    this.#dropExpired()
    if (depth <= BUCKET_DEPTH) {
      const at = Number(prefix)
      const hi = this.#xorHi[depth]![at] ?? 0
      const lo = this.#xorLo[depth]![at] ?? 0
      return { fingerprint: toBigInt(hi, lo), count: this.#counts[depth]![at] ?? 0 }
    }
    const [bucket, start, end] = this.#within(depth, prefix)
    const slots = this.#buckets[bucket]!
    let hi = 0
    let lo = 0
    for (let at = start; at < end; at++) {
      const word = slots[at]! * WORDS
      hi ^= this.#hashes[word + 2]!
      lo ^= this.#hashes[word + 3]!
    }
    return { fingerprint: toBigInt(hi >>> 0, lo >>> 0), count: end - start }
  }

  items(depth: number, prefix: bigint): DigestItem[] {
    this.#dropExpired()
    const items: DigestItem[] = []
    if (depth <= BUCKET_DEPTH) {
      const span = 16 ** (BUCKET_DEPTH - depth)
      const first = Number(prefix) * span
      for (let bucket = first; bucket < first + span; bucket++) {
        this.#pushItems(items, bucket, 0, this.#bucketSizes[bucket]!)
      }
      return items
    }
    const [bucket, start, end] = this.#within(depth, prefix)
    this.#pushItems(items, bucket, start, end)
    return items
  }

  recordsWithKey(key: bigint): SessionRecord[] {
    this.#dropExpired()
    const [bucket, start, end] = this.#withKey(Number(key >> 32n), Number(key & 0xffffffffn))
    const slots = this.#buckets[bucket]!
    const found: SessionRecord[] = []
    for (let at = start; at < end; at++) found.push(this.#records[slots[at]!]!)
    return found
  }

  #dropExpired(): void {
    const now = this.#now()
    for (let slot = this.#expiry.firstExpired(now); slot >= 0; slot = this.#expiry.firstExpired(now)) {
      const [bucket, start] = this.#withKey(this.#hashes[slot * WORDS]!, this.#hashes[slot * WORDS + 1]!)
      const slots = this.#buckets[bucket]!
      let at = start
      while (slots[at] !== slot) at++
      this.#removeAt(bucket, at)
    }
  }

  #allocate(record: SessionRecord): number {
    const slot = this.#freeSlots.pop() ?? this.#records.length
    if (slot === this.#records.length) this.#records.push(record)
    else this.#records[slot] = record
    if ((slot + 1) * WORDS > this.#hashes.length) this.#hashes = grown(this.#hashes, this.#hashes.length * 2)
    return slot
  }

  #removeAt(bucket: number, at: number): void {
    const slots = this.#buckets[bucket]!
    const slot = slots[at]!
    const size = --this.#bucketSizes[bucket]!
    slots.copyWithin(at, at + 1, size + 1)
    this.#account(bucket, slot, -1)
    this.#expiry.remove(slot)
    this.#records[slot] = undefined
    this.#freeSlots.push(slot)
  }

  #insert(bucket: number, at: number, slot: number): void {
    let slots = this.#buckets[bucket]!
    const size = this.#bucketSizes[bucket]!
    if (size === slots.length) {
      slots = grown(slots, Math.max(4, size * 2))
      this.#buckets[bucket] = slots
    }
    slots.copyWithin(at + 1, at, size)
    slots[at] = slot
    this.#bucketSizes[bucket] = size + 1
  }

  #pushItems(items: DigestItem[], bucket: number, start: number, end: number): void {
    const slots = this.#buckets[bucket]!
    for (let at = start; at < end; at++) {
      const word = slots[at]! * WORDS
      const hashes = this.#hashes
      items.push({
        key: toBigInt(hashes[word]!, hashes[word + 1]!),
        fingerprint: toBigInt(hashes[word + 2]!, hashes[word + 3]!),
      })
    }
  }

  /** The bucket of a range deeper than a bucket, and the range's positions [start, end) in it. */
  #within(depth: number, prefix: bigint): [number, number, number] {
    const shift = BigInt(64 - depth * 4)
    const low = prefix << shift
    const lowHi = Number(low >> 32n)
    const bucket = lowHi >>> (32 - BUCKET_BITS)
    // The range's end as a number pair: its high word may be 2^32, past every key.
    const high = (prefix + 1n) << shift
    const start = this.#lowerBound(bucket, lowHi, Number(low & 0xffffffffn), 0)
    const end = this.#lowerBound(bucket, Number(high >> 32n), Number(high & 0xffffffffn), start)
    return [bucket, start, end]
  }

  /** The first position in `bucket`, from `start` on, whose key is not below (hi, lo). */
  #lowerBound(bucket: number, hi: number, lo: number, start: number): number {
    const slots = this.#buckets[bucket]!
    const hashes = this.#hashes
    let low = start
    let high = this.#bucketSizes[bucket]!
    while (low < high) {
      const mid = (low + high) >>> 1
      const word = slots[mid]! * WORDS
      const midHi = hashes[word]!
      if (midHi < hi || (midHi === hi && hashes[word + 1]! < lo)) low = mid + 1
      else high = mid
    }
    return low
  }

  /** The first position in `bucket` whose key is above (hi, lo). */
  #upperBound(bucket: number, hi: number, lo: number): number {
    return lo === TWO_32 - 1
      ? this.#lowerBound(bucket, hi + 1, 0, 0)
      : this.#lowerBound(bucket, hi, lo + 1, 0)
  }

  /** The bucket of key (hi, lo), and the positions [start, end) in it of the entries with that key. */
  #withKey(hi: number, lo: number): [number, number, number] {
    const bucket = hi >>> (32 - BUCKET_BITS)
    const start = this.#lowerBound(bucket, hi, lo, 0)
    return [bucket, start, this.#upperBound(bucket, hi, lo)]
  }

  #account(bucket: number, slot: number, count: number): void {
    const fpHi = this.#hashes[slot * WORDS + 2]!
    const fpLo = this.#hashes[slot * WORDS + 3]!
    for (let depth = 0; depth <= BUCKET_DEPTH; depth++) {
      const at = bucket >> (4 * (BUCKET_DEPTH - depth))
      const xorHi = this.#xorHi[depth]!
      const xorLo = this.#xorLo[depth]!
      const counts = this.#counts[depth]!
      xorHi[at] = xorHi[at]! ^ fpHi
      xorLo[at] = xorLo[at]! ^ fpLo
      counts[at] = counts[at]! + count
    }
  }
}

function toBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo)
}
