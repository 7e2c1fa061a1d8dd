/**
 * Ids seen lately, each with a small value, in two generations of a Map: the current one takes new
 * ids, and when it is `ttlMs` old or holds `maxEntries / 2` ids it becomes the previous one and the
 * oldest generation is dropped whole. So an id is remembered for at least `ttlMs` or until
 * `maxEntries / 2` newer ids came, whichever is first, and at most `2 * ttlMs`; memory stays under
 * `maxEntries` ids.
 *
 * Why not lru-cache, which the replica uses: an LRU with a TTL allocates and zero-fills arrays for
 * its whole `max` when made (about 35 ms and several MB for 200,000 ids, per realm, on every start),
 * and moves each hit to the front. A duplicate filter needs neither exact recency nor exact expiry:
 * remembering a little longer or dropping a little sooner only changes when a very late copy counts
 * as new, which the store's version check then refuses.
 */
export class RecentIds<V> {
  readonly #maxPerGeneration: number
  readonly #ttlMs: number
  readonly #now: () => number
  #current = new Map<string, V>()
  #previous = new Map<string, V>()
  #currentSince: number

  constructor(init: { maxEntries: number; ttlMs: number; now: () => number }) {
    this.#maxPerGeneration = Math.max(1, Math.floor(init.maxEntries / 2))
    this.#ttlMs = init.ttlMs
    this.#now = init.now
    this.#currentSince = this.#now()
  }

  get size(): number {
    this.#rotateIfDue()
    return this.#current.size + this.#previous.size
  }

  get(id: string): V | undefined {
    this.#rotateIfDue()
    return this.#current.get(id) ?? this.#previous.get(id)
  }

  has(id: string): boolean {
    this.#rotateIfDue()
    return this.#current.has(id) || this.#previous.has(id)
  }

  set(id: string, value: V): void {
    this.#rotateIfDue()
    this.#previous.delete(id)
    this.#current.set(id, value)
    if (this.#current.size >= this.#maxPerGeneration) this.#rotate()
  }

  #rotateIfDue(): void {
    const age = this.#now() - this.#currentSince
    if (age < this.#ttlMs) return
    // Idle for two generations or more: the previous one is as old as the current, drop both.
    if (age >= 2 * this.#ttlMs) this.#current = new Map()
    this.#rotate()
  }

  #rotate(): void {
    this.#previous = this.#current
    this.#current = new Map()
    this.#currentSince = this.#now()
  }
}
