/** Resolves on the event loop's next turn, after the I/O that is ready now has been served. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

/** Work done in steps that hands the event loop back every `sliceMs`, and stops when `signal` aborts. */
export class TimeSlice {
  readonly #sliceMs: number
  readonly #signal: AbortSignal | undefined
  #started = performance.now()
  #steps = 0

  constructor(sliceMs: number, signal?: AbortSignal) {
    this.#sliceMs = sliceMs
    this.#signal = signal
  }

  /** Call after each step: yields once the slice is spent; throws the signal's reason once aborted. */
  async maybeYield(): Promise<void> {
    // Reading the clock costs more than a step: look every 64 steps.
    if ((++this.#steps & 63) !== 0 || performance.now() - this.#started < this.#sliceMs) return
    await nextTurn()
    this.#signal?.throwIfAborted()
    this.#started = performance.now()
  }
}
