import type { MeshClock, TimerHandle } from './clock.ts'

interface Timer {
  at: number
  seq: number
  fn: () => void
}

/**
 * A clock that moves only when told to (`advance`): for tests of what the mesh does after a while,
 * without waiting and without faking the global timers of a whole process.
 */
export class ManualClock implements MeshClock {
  #now: number
  #seq = 0
  readonly #timers = new Set<Timer>()

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.#now + ms, seq: this.#seq++, fn }
    this.#timers.add(timer)
    return timer
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers.delete(handle as Timer)
  }

  /** Timers set and not yet run or cleared. */
  get pending(): number {
    return this.#timers.size
  }

  /** Moves time `ms` forward, running each timer that falls due on the way, in time order. */
  advance(ms: number): void {
    const end = this.#now + ms
    for (let next = this.#due(end); next !== undefined; next = this.#due(end)) {
      this.#timers.delete(next)
      this.#now = next.at
      next.fn()
    }
    this.#now = end
  }

  #due(end: number): Timer | undefined {
    let first: Timer | undefined
    for (const timer of this.#timers) {
      if (timer.at > end) continue
      if (first === undefined || timer.at < first.at || (timer.at === first.at && timer.seq < first.seq))
        first = timer
    }
    return first
  }
}
