/**
 * The keys of one realm by the second they expire in, so that pruning visits the records that
 * expired and not the whole realm: a scan of 1,000,000 records every 10 s would hold the event loop
 * for hundreds of milliseconds, in the process that answers every resumption. A key is in exactly
 * one bucket while its record is held (the store adds it when a record is stored and removes it
 * when the record leaves, whatever the reason).
 */
export class ExpiryWheel {
  readonly #bucketMs: number
  readonly #buckets = new Map<number, Set<string>>()

  constructor(bucketMs = 1000) {
    this.#bucketMs = bucketMs
  }

  add(key: string, expires: number): void {
    const bucket = Math.floor(expires / this.#bucketMs)
    let keys = this.#buckets.get(bucket)
    if (keys === undefined) {
      keys = new Set()
      this.#buckets.set(bucket, keys)
    }
    keys.add(key)
  }

  remove(key: string, expires: number): void {
    const bucket = Math.floor(expires / this.#bucketMs)
    const keys = this.#buckets.get(bucket)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) this.#buckets.delete(bucket)
  }

  /**
   * Up to `limit` keys whose records may have expired by `now`, oldest first: every key of the
   * buckets before `now`'s, then those of `now`'s own bucket (the caller checks their expiry).
   */
  candidates(now: number, limit: number): string[] {
    const current = Math.floor(now / this.#bucketMs)
    const due = [...this.#buckets.keys()].filter((bucket) => bucket <= current).sort((a, b) => a - b)
    const found: string[] = []
    for (const bucket of due) {
      for (const key of this.#buckets.get(bucket)!) {
        if (found.length >= limit) return found
        found.push(key)
      }
    }
    return found
  }
}
