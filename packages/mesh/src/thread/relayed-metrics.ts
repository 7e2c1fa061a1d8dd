import type { Metric, MetricObjectWithValues, MetricValue, Registry } from 'prom-client'

/** A metric as another thread's registry gives it (`getMetricsAsJSON`): plain data. */
export type RelayedMetric = MetricObjectWithValues<MetricValue<string>>

/** How long a scrape waits for the other thread before it shows its metrics without values. */
export const RELAY_TIMEOUT_MS = 2000

/**
 * Metrics kept in another thread's registry (the transport's: libp2p's own, the pre-key refusals),
 * shown in this thread's: a stand-in for each, and one read of them all per scrape (a registry asks
 * its metrics all at once). A metric the other thread adds later shows from the scrape after the one
 * that first brings it. A read that fails, or takes over `timeoutMs`, shows the metrics without
 * values, and the scrape goes on.
 */
export class RelayedMetrics {
  readonly #registry: Registry
  readonly #read: () => Promise<RelayedMetric[]>
  readonly #timeoutMs: number
  #reading: Promise<Map<string, RelayedMetric>> | undefined

  constructor(registry: Registry, read: () => Promise<RelayedMetric[]>, timeoutMs = RELAY_TIMEOUT_MS) {
    this.#registry = registry
    this.#read = read
    this.#timeoutMs = timeoutMs
  }

  /** Stand-ins for those of `metrics` this registry does not hold yet. */
  add(metrics: readonly RelayedMetric[]): void {
    for (const metric of metrics) {
      const { name } = metric
      if (this.#registry.getSingleMetric(name) !== undefined) continue
      const empty: RelayedMetric = { ...metric, values: [] }
      const standIn = {
        name,
        get: async () => (await this.#scrape()).get(name) ?? empty,
        reset: () => {},
      }
      this.#registry.registerMetric(standIn as unknown as Metric)
    }
  }

  #scrape(): Promise<Map<string, RelayedMetric>> {
    this.#reading ??= this.#readOnce().finally(() => {
      this.#reading = undefined
    })
    return this.#reading
  }

  async #readOnce(): Promise<Map<string, RelayedMetric>> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), this.#timeoutMs)
    })
    try {
      const metrics = await Promise.race([this.#read(), late])
      this.add(metrics)
      return new Map(metrics.map((metric) => [metric.name, metric]))
    } catch {
      return new Map()
    } finally {
      clearTimeout(timer)
    }
  }
}
