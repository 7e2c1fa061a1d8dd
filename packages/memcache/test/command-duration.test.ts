import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { COMMAND_DURATION_BUCKETS, COMMANDS, MemcacheMetrics } from '../src/metrics.ts'
import { type Endpoint, startEndpoint } from './endpoint-fixture.ts'
import { binaryRequest, binaryResponse, Op, RawConnection } from './raw-clients.ts'

const NAME = 'tlsmesh_memcache_command_duration_seconds'
/** prom-client gives a histogram's samples their full name (`_bucket`, `_sum`, `_count`), untyped. */
const sample = (value: object): string | undefined => (value as { metricName?: string }).metricName
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function counts(registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(NAME)
  if (metric === undefined) throw new Error(`no metric ${NAME}`)
  const out: Record<string, number> = {}
  for (const v of (await metric.get()).values) {
    if (sample(v) === `${NAME}_count`) out[String(v.labels.command)] = v.value
  }
  return out
}

describe('tlsmesh_memcache_command_duration_seconds', () => {
  it('observes each command once, by command label, in both protocols', async () => {
    const ep: Endpoint = await startEndpoint()
    cleanups.push(() => ep.close())
    const text = await RawConnection.open(ep.port)
    cleanups.push(() => text.close())
    // The data block arrives in a later packet: the set is timed once, when it is whole.
    text.send('set k1 0 0 5\r\n')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await counts(ep.registry)).toEqual({})
    text.send('hello\r\nget k1\r\nbogus\r\n')
    expect(await text.line()).toBe('STORED')
    await text.retrieval()
    expect(await text.line()).toBe('ERROR')
    const binary = await RawConnection.open(ep.port)
    cleanups.push(() => binary.close())
    binary.send(binaryRequest({ opcode: Op.get, key: 'k1' }))
    await binaryResponse(binary)
    expect(await counts(ep.registry)).toEqual({ set: 1, get: 2, unknown: 1 })
    const text_ = await ep.registry.metrics()
    expect(text_).toContain(`# TYPE ${NAME} histogram`)
    expect(text_).toMatch(new RegExp(`^${NAME}_bucket\\{le="0.00005",command="get"\\} \\d+$`, 'm'))
  })

  it('puts durations in the right buckets, with a bounded command label', async () => {
    const registry = new Registry()
    const clock = { now: 1000 }
    const metrics = new MemcacheMetrics(registry, () => clock.now)
    const started = metrics.started()
    clock.now += 0.3 // 300 µs
    metrics.commandDone('get', started)
    const values = (await registry.getSingleMetric(NAME)!.get()).values
    const bucket = (le: number) =>
      values.find((v) => sample(v) === `${NAME}_bucket` && v.labels.le === le)?.value
    expect(bucket(0.00025)).toBe(0)
    expect(bucket(0.001)).toBe(1)
    expect(values.find((v) => sample(v) === `${NAME}_sum`)?.value).toBeCloseTo(0.0003, 9)
    // At most every command times every bucket (+Inf, sum, count): the series are bounded.
    expect(COMMAND_DURATION_BUCKETS.length).toBeLessThanOrEqual(8)
    expect(COMMANDS).toContain('unknown')
  })
})
