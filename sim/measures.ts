export interface RecordLog {
  no: number
  origin: number
  publishedAt: number
  /** Published after the warm-up: only these are measured. */
  measured: boolean
  deliveries: number
  /** When the last node got it, and the hops (relays before it) its copy had taken. */
  lastAt: number
  lastHops: number
  maxHops: number
  /**
   * Live nodes with no path of open links to the origin when it was published (cut off, or alone
   * until their dials complete): only catch-up (anti-entropy) could bring it to them.
   */
  unreachable: ReadonlySet<number>
}

/** What happened to each record: when it was published, and every delivery of it. */
export class Measures {
  readonly records: RecordLog[] = []
  /** Publication to delivery, in virtual ms, of every delivery of a measured record. */
  readonly latencies: number[] = []

  published(
    no: number,
    origin: number,
    at: number,
    measured: boolean,
    unreachable: ReadonlySet<number>,
  ): void {
    this.records[no] = {
      no,
      origin,
      publishedAt: at,
      measured,
      deliveries: 0,
      lastAt: at,
      lastHops: 0,
      maxHops: 0,
      unreachable,
    }
  }

  delivered(no: number, hops: number, at: number): void {
    const log = this.records[no]!
    log.deliveries++
    log.lastAt = at
    log.lastHops = hops
    log.maxHops = Math.max(log.maxHops, hops)
    if (log.measured) this.latencies.push(at - log.publishedAt)
  }
}

export interface Summary {
  mean: number
  p50: number
  p99: number
  max: number
}

/** Nearest-rank percentiles, rounded so that the JSON reads (and compares) the same every run. */
export function summarize(values: ArrayLike<number>, digits = 2): Summary {
  const sorted = Float64Array.from(values).sort()
  if (sorted.length === 0) return { mean: 0, p50: 0, p99: 0, max: 0 }
  const rank = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  let sum = 0
  for (const value of sorted) sum += value
  const round = (x: number): number => Number(x.toFixed(digits))
  return {
    mean: round(sum / sorted.length),
    p50: round(rank(0.5)),
    p99: round(rank(0.99)),
    max: round(sorted[sorted.length - 1]!),
  }
}
