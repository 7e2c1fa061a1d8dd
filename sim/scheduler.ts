import type { MeshClock, TimerHandle } from '@tlsmesh/mesh'

interface Event {
  at: number
  /** Events due at the same time run in the order they were scheduled: a run replays exactly. */
  seq: number
  fn: () => void
  cancelled: boolean
}

/**
 * Virtual time: a binary heap of events run in time order. Nothing waits; a run of minutes of
 * virtual time takes what its events cost. It is also the Plumtrees' clock (MeshClock).
 */
export class Scheduler implements MeshClock {
  #now: number
  #seq = 0
  readonly #heap: Event[] = []
  /** Events run so far (the simulation's own cost measure). */
  executed = 0
  #paused = false

  constructor(start: number) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  at(time: number, fn: () => void): Event {
    const event: Event = { at: Math.max(time, this.#now), seq: this.#seq++, fn, cancelled: false }
    this.#push(event)
    return event
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.at(this.#now + ms, fn)
  }

  clearTimer(handle: TimerHandle): void {
    // Left in the heap and skipped when due: cheaper than removing it from the middle.
    if (handle !== undefined) (handle as Event).cancelled = true
  }

  /** Makes `runUntil` return after the event that calls this: the run has asynchronous work first. */
  pause(): void {
    this.#paused = true
  }

  /**
   * Runs every event due up to `time`, then sets the clock to it; returns false, the clock at the
   * last event run, when an event paused it.
   */
  runUntil(time: number): boolean {
    const heap = this.#heap
    while (heap.length > 0 && heap[0]!.at <= time) {
      const event = this.#pop()
      if (event.cancelled) continue
      this.#now = event.at
      this.executed++
      event.fn()
      if (this.#paused) {
        this.#paused = false
        return false
      }
    }
    this.#now = Math.max(this.#now, time)
    return true
  }

  #before(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  #push(event: Event): void {
    const heap = this.#heap
    heap.push(event)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  #pop(): Event {
    const heap = this.#heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length === 0) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let least = i
      if (left < heap.length && this.#before(heap[left]!, heap[least]!)) least = left
      if (right < heap.length && this.#before(heap[right]!, heap[least]!)) least = right
      if (least === i) return top
      ;[heap[i], heap[least]] = [heap[least]!, heap[i]!]
      i = least
    }
  }
}
