/**
 * The keys of one realm by the second they expire in, so that pruning visits the records that
 * expired and not the whole realm: a scan of 1,000,000 records every 10 s would hold the event loop
 * for hundreds of milliseconds, in the process that answers every resumption.
 *
 * A bucket is an array that keys are appended to, not a set: a key costs one array slot, and adding
 * it costs a push where a set of a million keys costs a hash insert and its rehashes. Removing a
 * record only counts it out of its bucket; its slot stays until pruning visits it, or the bucket is
 * compacted once more than half its slots are stale (so a client that sets one key again and again
 * grows no bucket past twice its live keys). A key's slot is live while its record is held with an
 * expiry in that bucket: `expiryOf` (the store's view) tells, and it decides nothing else.
 */
export class ExpiryWheel {
  readonly #bucketMs: number
  readonly #expiryOf: (key: string) => number | undefined
  readonly #buckets = new Map<number, Bucket>()
  /** The bucket `prune` is walking: not compacted under it. */
  #pruning: Bucket | undefined

  constructor(expiryOf: (key: string) => number | undefined, bucketMs = 1000) {
    this.#expiryOf = expiryOf
    this.#bucketMs = bucketMs
  }

  add(key: string, expires: number): void {
    const id = this.#bucketOf(expires)
    const bucket = this.#buckets.get(id)
    if (bucket === undefined) {
      this.#buckets.set(id, { keys: [key], live: 1 })
    } else {
      bucket.keys.push(key)
      bucket.live++
    }
  }

  remove(expires: number): void {
    const id = this.#bucketOf(expires)
    const bucket = this.#buckets.get(id)
    if (bucket === undefined) return
    bucket.live--
    if (bucket.live <= 0) this.#buckets.delete(id)
    else if (
      bucket !== this.#pruning &&
      bucket.keys.length >= COMPACT_MIN_SLOTS &&
      bucket.live * 2 < bucket.keys.length
    ) {
      bucket.keys = this.#liveKeys(id, bucket.keys)
    }
  }

  /**
   * Calls `expire` for each key whose record expired by `now`, oldest bucket first, at most `limit`
   * times; returns how many. `expire` must remove the record. Slots visited whose records expired or
   * went are dropped, so each is visited once however small the slices: a bucket before `now`'s
   * (every live key in it has expired) is taken from its end, a pop per slot; `now`'s own in the
   * order its keys came, passing over at most `limit` unexpired keys, which stay.
   */
  prune(now: number, limit: number, expire: (key: string) => void): number {
    const current = this.#bucketOf(now)
    const due = [...this.#buckets.keys()].filter((id) => id <= current).sort((a, b) => a - b)
    let expired = 0
    for (const id of due) {
      if (expired >= limit) break
      const bucket = this.#buckets.get(id)
      if (bucket === undefined) continue
      this.#pruning = bucket
      expired +=
        id < current
          ? this.#expireAll(id, bucket, limit - expired, expire)
          : this.#expireDue(id, bucket, now, limit - expired, expire)
      this.#pruning = undefined
    }
    return expired
  }

  #expireAll(id: number, bucket: Bucket, limit: number, expire: (key: string) => void): number {
    const keys = bucket.keys
    let expired = 0
    while (keys.length > 0 && expired < limit && bucket.live > 0) {
      const key = keys.pop()!
      if (!this.#holds(id, key)) continue
      expire(key)
      expired++
    }
    return expired
  }

  #expireDue(id: number, bucket: Bucket, now: number, limit: number, expire: (key: string) => void): number {
    const keys = bucket.keys
    let kept = 0
    let expired = 0
    let read = 0
    for (; read < keys.length && expired < limit && kept < limit && bucket.live > 0; read++) {
      const key = keys[read]!
      const expires = this.#expiryOf(key)
      if (expires === undefined || this.#bucketOf(expires) !== id) continue
      if (expires > now) {
        keys[kept++] = key
        continue
      }
      expire(key)
      expired++
    }
    keys.copyWithin(kept, read)
    keys.length -= read - kept
    return expired
  }

  /** Slots held over all buckets, stale ones included. */
  get slots(): number {
    let slots = 0
    for (const bucket of this.#buckets.values()) slots += bucket.keys.length
    return slots
  }

  /** The bucket's slots whose records are still held in it, each key once. */
  #liveKeys(id: number, keys: readonly string[]): string[] {
    const seen = new Set<string>()
    for (const key of keys) {
      if (this.#holds(id, key)) seen.add(key)
    }
    return [...seen]
  }

  /** Whether `key`'s record is held with an expiry in bucket `id`. */
  #holds(id: number, key: string): boolean {
    const expires = this.#expiryOf(key)
    return expires !== undefined && this.#bucketOf(expires) === id
  }

  #bucketOf(expires: number): number {
    return Math.floor(expires / this.#bucketMs)
  }
}

interface Bucket {
  /** Keys added to the bucket, some of them stale: their record went, or moved to another bucket. */
  keys: string[]
  /** Records held with an expiry in this bucket. */
  live: number
}

/** Buckets smaller than this are left to pruning: compacting them would cost more than their slots. */
const COMPACT_MIN_SLOTS = 64
