/**
 * The keys of one realm by the second they expire in, so that pruning visits the records that
 * expired and not the whole realm: a scan of 1,000,000 records every 10 s would hold the event loop
 * for hundreds of milliseconds, in the process that answers every resumption.
 *
 * A bucket is an array that keys are appended to, not a set: a key costs one array slot, and adding
 * it costs a push where a set of a million keys costs a hash insert and its rehashes. Removing a
 * record only counts it out of its bucket; its slot stays until the bucket is pruned, or compacted
 * once more than half its slots are stale (so a client that sets one key again and again grows no
 * bucket past twice its live keys). A key's slot is live while its record is held with an expiry in
 * that bucket: `expiryOf` (the store's view) tells, and it decides nothing else.
 */
export class ExpiryWheel {
  readonly #bucketMs: number
  readonly #expiryOf: (key: string) => number | undefined
  readonly #buckets = new Map<number, Bucket>()

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
    else if (bucket.keys.length >= COMPACT_MIN_SLOTS && bucket.live * 2 < bucket.keys.length) {
      bucket.keys = this.#liveKeys(id, bucket.keys)
    }
  }

  /**
   * Calls `expire` for each key whose record expired by `now`, oldest bucket first, at most `limit`
   * times; returns how many. `expire` must remove the record (its `remove` finds the bucket out of
   * the wheel while it is visited, and is ignored). Visits the buckets before `now`'s, whose live
   * keys have all expired, and `now`'s own, whose unexpired keys stay.
   */
  prune(now: number, limit: number, expire: (key: string) => void): number {
    const current = this.#bucketOf(now)
    const due = [...this.#buckets.keys()].filter((id) => id <= current).sort((a, b) => a - b)
    let expired = 0
    for (const id of due) {
      if (expired >= limit) break
      const bucket = this.#buckets.get(id)!
      this.#buckets.delete(id)
      const kept: string[] = []
      let visited = 0
      let expiredHere = 0
      for (; visited < bucket.keys.length && expired < limit; visited++) {
        const key = bucket.keys[visited]!
        const expires = this.#expiryOf(key)
        if (expires === undefined || this.#bucketOf(expires) !== id) continue
        if (expires > now) {
          kept.push(key)
          continue
        }
        expire(key)
        expired++
        expiredHere++
      }
      const rest = visited < bucket.keys.length ? kept.concat(bucket.keys.slice(visited)) : kept
      this.#putBack(id, rest, bucket.live - expiredHere)
    }
    return expired
  }

  /** Slots held over all buckets, stale ones included. */
  get slots(): number {
    let slots = 0
    for (const bucket of this.#buckets.values()) slots += bucket.keys.length
    return slots
  }

  #putBack(id: number, keys: string[], live: number): void {
    if (live <= 0 || keys.length === 0) return
    const added = this.#buckets.get(id)
    if (added === undefined) this.#buckets.set(id, { keys, live })
    else this.#buckets.set(id, { keys: keys.concat(added.keys), live: live + added.live })
  }

  /** The bucket's slots whose records are still held in it, each key once. */
  #liveKeys(id: number, keys: readonly string[]): string[] {
    const seen = new Set<string>()
    for (const key of keys) {
      const expires = this.#expiryOf(key)
      if (expires !== undefined && this.#bucketOf(expires) === id) seen.add(key)
    }
    return [...seen]
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
