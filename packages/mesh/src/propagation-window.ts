/**
 * The last `capacity` propagation delays, for p50/p99 in `status()` without scraping a histogram.
 * Bounded ring buffer; percentiles sort a copy, which is fine at status-request rates.
 */
export class PropagationWindow {
  readonly #samples: Float64Array
  #next = 0
  #filled = 0

  constructor(capacity = 2048) {
    this.#samples = new Float64Array(capacity)
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms
    this.#next = (this.#next + 1) % this.#samples.length
    if (this.#filled < this.#samples.length) this.#filled++
  }

  get count(): number {
    return this.#filled
  }

  /** q in [0, 1], nearest rank (p99 of 100 samples is the 99th smallest); undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.#filled === 0) return undefined
    const sorted = this.#samples.slice(0, this.#filled).sort()
    // The epsilon keeps a product like 0.07 * 100 = 7.000000000000001 at rank 7.
    const rank = Math.ceil(q * this.#filled - 1e-9)
    return sorted[Math.min(this.#filled, Math.max(1, rank)) - 1]
  }
}
