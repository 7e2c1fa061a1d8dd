import type { SessionRecord } from '@tlsmesh/store'
import { ExpiryQueue, grown } from './expiry-queue.ts'
import type { DigestItem, KeyRangeDigest, RangeSummary } from './key-range.ts'
import { writeHashes } from './sync-keys.ts'
import { highWord, lowWord } from './words.ts'

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
 * BigInts appear only in what the BigInt methods return: `rangeWords` and `forEachItem` read the same
 * as 32-bit words, for a query answered from packed arrays (packed-answer.ts) to allocate nothing a
 * range.
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
  /** Where `#within` and `#withKey` put what they found: the bucket, and positions [start, end) in it. */
  readonly #span = new Int32Array(3)

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
    const span = this.#withKey(this.#scratch[0]!, this.#scratch[1]!)
    const bucket = span[0]!
    const slots = this.#buckets[bucket]!
    for (let at = span[1]!; at < span[2]!; at++) {
      if (this.#records[slots[at]!] !== record) continue
      this.#removeAt(bucket, at)
      return
    }
  }

  range(depth: number, prefix: bigint): RangeSummary {
    const words = this.#scratch
    const count = this.rangeWords(depth, highWord(prefix), lowWord(prefix), words)
    return { fingerprint: toBigInt(words[0]!, words[1]!), count }
  }

  items(depth: number, prefix: bigint): DigestItem[] {
    const items: DigestItem[] = []
    this.forEachItem(depth, highWord(prefix), lowWord(prefix), (keyHi, keyLo, fpHi, fpLo) => {
      items.push({ key: toBigInt(keyHi, keyLo), fingerprint: toBigInt(fpHi, fpLo) })
    })
    return items
  }

  /**
   * `range` of the prefix (prefixHi, prefixLo) as words: writes the fingerprint's high and low words
   * to `into[0]` and `into[1]`, and returns the count.
   */
  rangeWords(depth: number, prefixHi: number, prefixLo: number, into: Uint32Array): number {
    this.#dropExpired()
    if (depth <= BUCKET_DEPTH) {
      into[0] = this.#xorHi[depth]![prefixLo] ?? 0
      into[1] = this.#xorLo[depth]![prefixLo] ?? 0
      return this.#counts[depth]![prefixLo] ?? 0
    }
    const span = this.#within(depth, prefixHi, prefixLo)
    const slots = this.#buckets[span[0]!]!
    const hashes = this.#hashes
    let hi = 0
    let lo = 0
    for (let at = span[1]!; at < span[2]!; at++) {
      const word = slots[at]! * WORDS
      hi ^= hashes[word + 2]!
      lo ^= hashes[word + 3]!
    }
    into[0] = hi
    into[1] = lo
    return span[2]! - span[1]!
  }

  /**
   * `items` of the prefix (prefixHi, prefixLo) as words: calls `visit` with each item's key and
   * fingerprint words, by key, and returns how many there were.
   */
  forEachItem(depth: number, prefixHi: number, prefixLo: number, visit: ItemVisitor): number {
    this.#dropExpired()
    if (depth > BUCKET_DEPTH) {
      const span = this.#within(depth, prefixHi, prefixLo)
      return this.#visit(span[0]!, span[1]!, span[2]!, visit)
    }
    const width = 16 ** (BUCKET_DEPTH - depth)
    const first = prefixLo * width
    let visited = 0
    for (let bucket = first; bucket < Math.min(first + width, BUCKETS); bucket++) {
      visited += this.#visit(bucket, 0, this.#bucketSizes[bucket]!, visit)
    }
    return visited
  }

  recordsWithKey(key: bigint): SessionRecord[] {
    this.#dropExpired()
    const span = this.#withKey(highWord(key), lowWord(key))
    const slots = this.#buckets[span[0]!]!
    const start = span[1]!
    // Sized at once: an array grown by push starts with room for 17.
    const found = new Array<SessionRecord>(span[2]! - start)
    for (let i = 0; i < found.length; i++) found[i] = this.#records[slots[start + i]!]!
    return found
  }

  #dropExpired(): void {
    const now = this.#now()
    for (let slot = this.#expiry.firstExpired(now); slot >= 0; slot = this.#expiry.firstExpired(now)) {
      const span = this.#withKey(this.#hashes[slot * WORDS]!, this.#hashes[slot * WORDS + 1]!)
      const bucket = span[0]!
      const slots = this.#buckets[bucket]!
      let at = span[1]!
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

  #visit(bucket: number, start: number, end: number, visit: ItemVisitor): number {
    const slots = this.#buckets[bucket]!
    const hashes = this.#hashes
    for (let at = start; at < end; at++) {
      const word = slots[at]! * WORDS
      visit(hashes[word]!, hashes[word + 1]!, hashes[word + 2]!, hashes[word + 3]!)
    }
    return end - start
  }

  /**
   * The bucket of a range deeper than a bucket, and the range's positions [start, end) in it, in
   * `#span`. The range's keys run from the prefix shifted up to 64 bits, to the next prefix shifted up
   * (whose high word may be 2^32, past every key).
   */
  #within(depth: number, prefixHi: number, prefixLo: number): Int32Array {
    const shift = 64 - depth * 4
    const lowHi = shiftedHigh(prefixHi, prefixLo, shift)
    const bucket = lowHi >>> (32 - BUCKET_BITS)
    const carry = prefixLo === TWO_32 - 1 ? 1 : 0
    const nextHi = prefixHi + carry
    const nextLo = carry === 1 ? 0 : prefixLo + 1
    const start = this.#lowerBound(bucket, lowHi, shiftedLow(prefixLo, shift), 0)
    const end = this.#lowerBound(bucket, shiftedHigh(nextHi, nextLo, shift), shiftedLow(nextLo, shift), start)
    this.#span[0] = bucket
    this.#span[1] = start
    this.#span[2] = end
    return this.#span
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

  /** The bucket of key (hi, lo), and the positions [start, end) in it of the entries with that key, in `#span`. */
  #withKey(hi: number, lo: number): Int32Array {
    const bucket = hi >>> (32 - BUCKET_BITS)
    this.#span[0] = bucket
    this.#span[1] = this.#lowerBound(bucket, hi, lo, 0)
    this.#span[2] = this.#upperBound(bucket, hi, lo)
    return this.#span
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

/** Called with an item's key and fingerprint, as their high and low 32-bit words. */
export type ItemVisitor = (keyHi: number, keyLo: number, fingerprintHi: number, fingerprintLo: number) => void

function toBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/**
 * The high word of (hi, lo) * 2^shift, for a value that fits 64 bits once shifted (the high word of a
 * range's end may be 2^32). Doubles hold each step exactly: a product by a power of two, or below 2^53.
 */
function shiftedHigh(hi: number, lo: number, shift: number): number {
  return shift >= 32
    ? (hi * TWO_32 + lo) * 2 ** (shift - 32)
    : hi * 2 ** shift + Math.floor(lo / 2 ** (32 - shift))
}

/** The low word of (hi, lo) * 2^shift. */
function shiftedLow(lo: number, shift: number): number {
  return shift >= 32 ? 0 : (lo * 2 ** shift) % TWO_32
}
