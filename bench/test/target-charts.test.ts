import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  ingestChart,
  memcacheChart,
  memoryChart,
  overloadChart,
  receiveCostChart,
  stallGetChart,
  stallLoopChart,
  stallResumeChart,
} from '../lib/target-charts.ts'

const result = (part: string) =>
  JSON.parse(readFileSync(new URL(`../results/${part}.json`, import.meta.url), 'utf8'))

/** The heights of a chart's bars (each has a title; the background and legend swatches do not). */
const heights = (svg: string): number[] =>
  [...svg.matchAll(/<rect [^>]*height="([^"]+)"[^>]*><title>/g)].map((m) => Number(m[1]))

describe('target charts, drawn from the committed results', () => {
  it('draws every stall phase for each size and placement, with nothing missing', () => {
    const svg = stallLoopChart(result('stall'), result('stall-isolated'))
    expect(svg).not.toContain('NaN')
    for (const name of ['100,000 records', '1,000,000 records, isolated']) expect(svg).toContain(name)
    // 4 phases x (2 sizes x 2 placements) bars, none of them empty.
    expect(heights(svg).filter((h) => h > 0).length).toBeGreaterThanOrEqual(16)
    expect(stallGetChart(result('stall'), undefined)).not.toContain('NaN')
    const withSplit = stallGetChart(result('stall'), result('stall-isolated'), {
      split: result('stall-split'),
    })
    expect(withSplit).toContain('1,000,000 records, mesh on a worker, isolated')
    expect(heights(withSplit).filter((h) => h > 0).length).toBeGreaterThanOrEqual(24)
    const designs = { split: result('stall-split'), threaded: result('stall-threaded') }
    const withBoth = stallGetChart(result('stall'), result('stall-isolated'), designs)
    expect(withBoth).not.toContain('NaN')
    expect(withBoth).toContain('100,000 records, transport on a worker, isolated')
    expect(heights(withBoth).filter((h) => h > 0).length).toBeGreaterThanOrEqual(32)
  })

  it("draws the TLS clients' resumptions for every phase and size", () => {
    const svg = stallResumeChart(result('stall-tls'))
    expect(svg).not.toContain('NaN')
    expect(heights(svg).filter((h) => h > 0).length).toBeGreaterThanOrEqual(8)
  })

  it('draws memcached beside tlsmeshd, and tlsmeshd --transport-thread, for get and set', () => {
    const memcache = result('memcache')
    for (const field of ['opsPerSecond', 'p99Ms'] as const) {
      const svg = memcacheChart(memcache, field)
      expect(svg).not.toContain('NaN')
      expect(heights(svg).filter((h) => h > 0)).toHaveLength(6)
    }
    // A run from before the threaded row: its two servers only.
    const older = {
      ...memcache,
      rows: memcache.rows.filter((r: { name: string }) => !r.name.includes('thread')),
    }
    expect(heights(memcacheChart(older, 'opsPerSecond')).filter((h) => h > 0)).toHaveLength(4)
  })

  it('draws the overload, ingest, memory and receive-cost figures without a gap', () => {
    const cost = result('node-cost')
    const columns = cost.profile.map((p: { design: string }) => ({ title: p.design, profile: p }))
    const categories = cost.profile[0].categories.map((c: { category: string }) => c.category)
    for (const svg of [
      overloadChart(result('overload')),
      ingestChart(result('ingest'), 30_000),
      memoryChart(result('memory')),
      receiveCostChart(columns, categories),
    ]) {
      expect(svg).not.toContain('NaN')
      expect(svg).toMatch(/^<svg/)
    }
  })

  it('leaves a phase out of the overload chart when a run predates its field', () => {
    const overload = result('overload')
    for (const row of overload.rows) delete row.calmP50Ms
    const svg = overloadChart(overload)
    expect(svg).not.toContain('calm p50')
    expect(svg).toContain('overload p99')
  })
})
