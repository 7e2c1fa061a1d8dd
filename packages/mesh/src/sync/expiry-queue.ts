/** What the queue orders: an item that knows its own place in it (-1 when out of it). */
export interface Expiring {
  readonly record: { readonly expires: number }
  queueIndex: number
}

/**
 * The items of a digest by expiry, soonest first (a binary heap that keeps each item's position in
 * it): an expired record leaves the digest the moment it is read, not when the replica gets round to
 * purging it, and a record that leaves earlier is taken out in O(log n).
 */
export class ExpiryQueue<T extends Expiring> {
  readonly #heap: T[] = []

  get size(): number {
    return this.#heap.length
  }

  add(item: T): void {
    item.queueIndex = this.#heap.length
    this.#heap.push(item)
    this.#up(item.queueIndex)
  }

  /** Takes `item` out; nothing if it is not in the queue. */
  remove(item: T): void {
    const at = item.queueIndex
    if (at < 0 || this.#heap[at] !== item) return
    item.queueIndex = -1
    const last = this.#heap.pop()!
    if (at === this.#heap.length) return
    this.#place(last, at)
    this.#up(at)
    this.#down(last.queueIndex)
  }

  /** Takes out and returns every item whose record has expired at `now` (`expires <= now`). */
  takeExpired(now: number): T[] {
    const expired: T[] = []
    while (this.#heap.length > 0 && this.#heap[0]!.record.expires <= now) {
      const first = this.#heap[0]!
      this.remove(first)
      expired.push(first)
    }
    return expired
  }

  #place(item: T, at: number): void {
    this.#heap[at] = item
    item.queueIndex = at
  }

  #up(at: number): void {
    const item = this.#heap[at]!
    while (at > 0) {
      const parent = (at - 1) >>> 1
      if (this.#heap[parent]!.record.expires <= item.record.expires) break
      this.#place(this.#heap[parent]!, at)
      at = parent
    }
    this.#place(item, at)
  }

  #down(at: number): void {
    const item = this.#heap[at]!
    const length = this.#heap.length
    for (;;) {
      let child = 2 * at + 1
      if (child >= length) break
      if (child + 1 < length && this.#heap[child + 1]!.record.expires < this.#heap[child]!.record.expires) {
        child++
      }
      if (this.#heap[child]!.record.expires >= item.record.expires) break
      this.#place(this.#heap[child]!, at)
      at = child
    }
    this.#place(item, at)
  }
}
