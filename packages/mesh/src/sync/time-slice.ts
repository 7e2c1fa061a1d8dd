/** Resolves on the event loop's next turn, after the I/O that is ready now has been served. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Work done in steps that hands the event loop back every `sliceMs`, and stops when `signal` aborts.
 * The clock is read every `checkEvery` steps (a power of two): for steps of microseconds, reading it
 * costs more than a step; for steps of a millisecond or more, every step is a check (1).
 */
export class TimeSlice {
  readonly #sliceMs: number
  readonly #signal: AbortSignal | undefined
  readonly #checkMask: number
  #started = performance.now()
  #steps = 0

  constructor(sliceMs: number, signal?: AbortSignal, checkEvery = 64) {
    this.#sliceMs = sliceMs
    this.#signal = signal
    if (!Number.isInteger(checkEvery) || checkEvery < 1 || (checkEvery & (checkEvery - 1)) !== 0) {
      throw new RangeError(`TimeSlice: checkEvery must be a power of two, got ${checkEvery}`)
    }
    this.#checkMask = checkEvery - 1
  }

  /**
   * Counts a step; true once the slice is spent, and the caller should `handBack()`. Loops of steps of
   * microseconds call this rather than `maybeYield()`, which makes a promise a step.
   */
  spent(): boolean {
    return (++this.#steps & this.#checkMask) === 0 && performance.now() - this.#started >= this.#sliceMs
  }

  /** Hands the event loop back for a turn; throws the signal's reason once aborted. */
  async handBack(): Promise<void> {
    await nextTurn()
    this.#signal?.throwIfAborted()
    this.#started = performance.now()
  }

  /** Call after each step: hands the loop back once the slice is spent. */
  async maybeYield(): Promise<void> {
    if (this.spent()) await this.handBack()
  }
}

/**
 * Turns handed out one at a time, in the order asked for: each `next()` resolves on a turn of the
 * event loop after the one before it, with the I/O that came meanwhile served in between. Messages
 * from another thread come in bunches (a port hands over all that are waiting in one task, and
 * setImmediate runs all the callbacks queued before it started in one go): work on each would
 * otherwise run back to back while a get waits behind it.
 */
export class TurnQueue {
  #last: Promise<void> = Promise.resolve()

  next(): Promise<void> {
    // Chained: a setImmediate queued while the check phase runs waits for the loop's next turn.
    const turn = this.#last.then(nextTurn)
    this.#last = turn
    return turn
  }
}
