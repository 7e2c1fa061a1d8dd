import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { type RelayedMetric, RelayedMetrics } from '../src/thread/relayed-metrics.ts'

/** The other thread's registry: a counter with labels and a histogram. */
function otherThread() {
  const registry = new Registry()
  const dials = new Counter({
    name: 'libp2p_dials_total',
    help: 'Dials',
    labelNames: ['result'],
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'libp2p_dial_seconds',
    help: 'Dial time',
    buckets: [0.1, 1],
    registers: [registry],
  })
  return { registry, dials, latency }
}

describe('RelayedMetrics', () => {
  it("shows another registry's metrics as they are at each scrape, with one read for all of them", async () => {
    const other = otherThread()
    const here = new Registry()
    let reads = 0
    const read = () => {
      reads++
      return other.registry.getMetricsAsJSON()
    }
    new RelayedMetrics(here, read).add(await other.registry.getMetricsAsJSON())
    reads = 0
    other.dials.inc({ result: 'ok' }, 3)
    other.latency.observe(0.5)
    const text = await here.metrics()
    expect(reads).toBe(1)
    expect(text).toContain('# TYPE libp2p_dials_total counter')
    expect(text).toMatch(/^libp2p_dials_total\{result="ok"\} 3$/m)
    expect(text).toMatch(/^libp2p_dial_seconds_bucket\{le="1"\} 1$/m)
    expect(text).toMatch(/^libp2p_dial_seconds_count 1$/m)
    other.dials.inc({ result: 'ok' })
    expect(await here.metrics()).toMatch(/^libp2p_dials_total\{result="ok"\} 4$/m)
    expect(reads).toBe(2)
  })

  it('shows a metric the other thread added later, from the scrape after the one that brought it', async () => {
    const other = otherThread()
    const here = new Registry()
    new RelayedMetrics(here, () => other.registry.getMetricsAsJSON()).add(
      await other.registry.getMetricsAsJSON(),
    )
    new Counter({ name: 'libp2p_late_total', help: 'Late', registers: [other.registry] }).inc(2)
    expect(await here.metrics()).not.toContain('libp2p_late_total')
    expect(await here.metrics()).toMatch(/^libp2p_late_total 2$/m)
  })

  it('leaves a metric this registry already holds alone, rather than fail or show it twice', async () => {
    const other = otherThread()
    const here = new Registry()
    new Counter({ name: 'libp2p_dials_total', help: 'Here', registers: [here] }).inc(7)
    new RelayedMetrics(here, () => other.registry.getMetricsAsJSON()).add(
      await other.registry.getMetricsAsJSON(),
    )
    const text = await here.metrics()
    expect(text.match(/# TYPE libp2p_dials_total /g)).toHaveLength(1)
    expect(text).toMatch(/^libp2p_dials_total 7$/m)
    expect(text).toContain('# TYPE libp2p_dial_seconds histogram')
  })

  it('answers the scrape without values when the other thread fails or does not answer in time', async () => {
    const other = otherThread()
    other.dials.inc({ result: 'ok' })
    const known = await other.registry.getMetricsAsJSON()
    for (const read of [
      () => Promise.reject(new Error('the transport thread exited')),
      () => new Promise<RelayedMetric[]>(() => {}),
    ]) {
      const here = new Registry()
      new Counter({ name: 'tlsmesh_here_total', help: 'Here', registers: [here] }).inc()
      new RelayedMetrics(here, read, 50).add(known)
      const text = await here.metrics()
      expect(text).toMatch(/^tlsmesh_here_total 1$/m)
      expect(text).toContain('# TYPE libp2p_dials_total counter')
      expect(text).not.toMatch(/^libp2p_dials_total\{/m)
    }
  })
})
