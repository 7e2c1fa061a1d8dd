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
  /** Bandwidth of a link inside a region, and between two, each way (megabits per second). */
  lanMbps: number
  wanMbps: number
  /**
   * What a node spends on a frame before it acts on it: decrypting, decoding and checking the
   * origin's signature. Each hop pays it, so a path of two short links is not faster than one
   * direct link, as on loopback, where it is most of a hop.
   */
  handleMs: number
}

/** Added to each frame's encoded size on the wire: length prefix, yamux header, Noise tag and length. */
export const FRAME_OVERHEAD_BYTES = 32

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
  /** Per direction of a link (a * LINK_KEY_BASE + b): when its last frame has left. */
  readonly #busyUntil = new Map<number, number>()
  #cut: ReadonlySet<number> | undefined

  constructor(init: NetworkInit, scheduler: Scheduler, prng: Prng) {
    this.#init = init
    this.#scheduler = scheduler
    this.#prng = prng
  }

  regionOf(node: number): number {
    return node % this.#init.regions
  }

  /** Milliseconds that `bytes` take to leave a node on the link from `a` to `b`. */
  serialization(a: number, b: number, bytes: number): number {
    const mbps = this.regionOf(a) === this.regionOf(b) ? this.#init.lanMbps : this.#init.wanMbps
    return (bytes * 8) / (mbps * 1000)
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

  /**
   * Carries a frame of `bytes` from `a` to `b`: it leaves once the frames before it on the link have
   * (a link is a queue, first in first out), and `arrive` runs when it has crossed and been handled,
   * unless it is lost or cut.
   */
  transmit(a: number, b: number, bytes: number, arrive: () => void): void {
    if (!this.reachable(a, b)) return
    if (this.#init.loss > 0 && this.#prng.float() < this.#init.loss) return
    const direction = a * LINK_KEY_BASE + b
    const leaves =
      Math.max(this.#scheduler.now(), this.#busyUntil.get(direction) ?? 0) +
      this.serialization(a, b, bytes + FRAME_OVERHEAD_BYTES)
    this.#busyUntil.set(direction, leaves)
    this.#scheduler.at(leaves + this.latency(a, b) + this.#init.handleMs, arrive)
  }
}
