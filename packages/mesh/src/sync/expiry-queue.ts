/**
 * Slots (small integers that the caller hands out and reuses) by expiry, soonest first: a binary heap
 * that keeps each slot's place in it, so that a slot leaving early is taken out in O(log n). Typed
 * arrays rather than an object per item: a digest of 1,000,000 records keeps one slot per record, and
 * objects would cost the heap tens of bytes each and the garbage collector a million more to mark.
 * A slot's expiry is the caller's (`expiresOf`, which must not change while the slot is in the
 * queue): the digest reads it off the record it holds, where a copy here cost 8 bytes a record.
 */
export class ExpiryQueue {
  readonly #expiresOf: (slot: number) => number
  #heap = new Int32Array(16)
  #size = 0
  /** By slot: its place in the heap (-1 when out of it). */
  #at = new Int32Array(16).fill(-1)

  constructor(expiresOf: (slot: number) => number) {
    this.#expiresOf = expiresOf
  }

  get size(): number {
    return this.#size
  }

  add(slot: number): void {
    if (slot >= this.#at.length) this.#growSlots(slot + 1)
    if (this.#size === this.#heap.length) this.#heap = grown(this.#heap, this.#size * 2)
    this.#place(slot, this.#size++)
    this.#up(this.#size - 1)
  }

  /** Takes `slot` out; nothing if it is not in the queue. */
  remove(slot: number): void {
    const at = slot < this.#at.length ? this.#at[slot]! : -1
    if (at < 0) return
    this.#at[slot] = -1
    const last = this.#heap[--this.#size]!
    if (at === this.#size) return
    this.#place(last, at)
    this.#up(at)
    this.#down(this.#at[last]!)
  }

  /** The slot that expires first if it has expired at `now` (`expires <= now`), or -1. */
  firstExpired(now: number): number {
    if (this.#size === 0) return -1
    const first = this.#heap[0]!
    return this.#expiresOf(first) <= now ? first : -1
  }

  #place(slot: number, at: number): void {
    this.#heap[at] = slot
    this.#at[slot] = at
  }

  #up(at: number): void {
    const slot = this.#heap[at]!
    const expires = this.#expiresOf(slot)
    while (at > 0) {
      const parent = (at - 1) >>> 1
      const above = this.#heap[parent]!
      if (this.#expiresOf(above) <= expires) break
      this.#place(above, at)
      at = parent
    }
    this.#place(slot, at)
  }

  #down(at: number): void {
    const slot = this.#heap[at]!
    const expires = this.#expiresOf(slot)
    for (;;) {
      let child = 2 * at + 1
      if (child >= this.#size) break
      if (
        child + 1 < this.#size &&
        this.#expiresOf(this.#heap[child + 1]!) < this.#expiresOf(this.#heap[child]!)
      ) {
        child++
      }
      const below = this.#heap[child]!
      if (this.#expiresOf(below) >= expires) break
      this.#place(below, at)
      at = child
    }
    this.#place(slot, at)
  }

  #growSlots(needed: number): void {
    const length = Math.max(needed, this.#at.length * 2)
    const at = new Int32Array(length).fill(-1)
    at.set(this.#at)
    this.#at = at
  }
}

/** A copy of `array` with room for `length` items. */
export function grown<T extends Int32Array | Uint32Array | Float64Array>(array: T, length: number): T {
  const copy = new (array.constructor as new (length: number) => T)(length)
  copy.set(array)
  return copy
}
