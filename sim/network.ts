import type { Prng } from './prng.ts'
import type { Scheduler } from './scheduler.ts'

export interface NetworkInit {
  /** Nodes are spread over this many regions (node i in region i % regions). */
  regions: number
  /** One-way latency inside a region (each link drawn once in [0.5x, 1.5x]). */
  lanMs: number
  /** One-way latency between two regions (each link drawn once in [0.9x, 1.1x]). */
  wanMs: number
  /** Probability that a frame is lost (a stream reset, a dropped queue), independently per frame. */
  loss: number
}

/** Fits any node index of a run (up to 2^20 nodes) into one number key per link. */
const LINK_KEY_BASE = 1 << 20

/**
 * Where frames go and how long they take: a latency per link, fixed for the link's life so that
 * frames on one link arrive in order (as on a TCP stream), optional loss, and a cut that isolates
 * a set of nodes from the rest (frames across it vanish, as in a silent partition).
 */
export class Network {
  readonly #init: NetworkInit
  readonly #scheduler: Scheduler
  readonly #prng: Prng
  readonly #latencies = new Map<number, number>()
  #cut: ReadonlySet<number> | undefined

  constructor(init: NetworkInit, scheduler: Scheduler, prng: Prng) {
    this.#init = init
    this.#scheduler = scheduler
    this.#prng = prng
  }

  regionOf(node: number): number {
    return node % this.#init.regions
  }

  latency(a: number, b: number): number {
    const key = a < b ? a * LINK_KEY_BASE + b : b * LINK_KEY_BASE + a
    let ms = this.#latencies.get(key)
    if (ms === undefined) {
      const { lanMs, wanMs } = this.#init
      ms =
        this.regionOf(a) === this.regionOf(b)
          ? this.#prng.between(0.5 * lanMs, 1.5 * lanMs)
          : this.#prng.between(0.9 * wanMs, 1.1 * wanMs)
      this.#latencies.set(key, ms)
    }
    return ms
  }

  /** Isolates `nodes` from every other node until `heal`. */
  cut(nodes: ReadonlySet<number>): void {
    this.#cut = nodes
  }

  heal(): void {
    this.#cut = undefined
  }

  reachable(a: number, b: number): boolean {
    return this.#cut === undefined || this.#cut.has(a) === this.#cut.has(b)
  }

  /** Carries something from `a` to `b`: `arrive` runs one latency later unless it is lost or cut. */
  transmit(a: number, b: number, arrive: () => void): void {
    if (!this.reachable(a, b)) return
    if (this.#init.loss > 0 && this.#prng.float() < this.#init.loss) return
    this.#scheduler.at(this.#scheduler.now() + this.latency(a, b), arrive)
  }
}
