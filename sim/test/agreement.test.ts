import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_OPTIONS, runSimulation, SCALE_BENCH_CONDITIONS } from '../simulation.ts'

interface ScaleRow {
  design: string
  nodes: number
  tree?: { originSendsPerBatch: number; payloadsSent: number }
}

/** The real processes' figures: the tree rows of the last `pnpm bench` scale run. */
const scale = JSON.parse(
  readFileSync(new URL('../../bench/results/scale.json', import.meta.url), 'utf8'),
) as { records: number; burst: number; rows: ScaleRow[] }
const batches = Math.ceil(scale.records / scale.burst)
const realRows = scale.rows.filter(
  (row) => row.design === 'tree' && row.nodes <= 20 && row.tree !== undefined,
)

describe('pnpm sim against the real processes (bench/results/scale.json)', () => {
  it('has real rows to compare with at N = 10 and 20', () => {
    expect(realRows.map((row) => row.nodes)).toEqual(expect.arrayContaining([10, 20]))
  })

  it.each(realRows)(
    'N = $nodes: payload copies and origin sends per batch within 10% of the real fleet',
    async (row) => {
      const conditions = { ...DEFAULT_OPTIONS, ...SCALE_BENCH_CONDITIONS, nodes: row.nodes, records: batches }
      const result = await runSimulation(conditions)
      const real = row.tree!
      expect(result.delivery.fraction).toBe(1)
      expect(result.perRecord.payloadCopies.mean).toBeGreaterThanOrEqual(0.9 * (real.payloadsSent / batches))
      expect(result.perRecord.payloadCopies.mean).toBeLessThanOrEqual(1.1 * (real.payloadsSent / batches))
      expect(result.perRecord.originSends.mean).toBeGreaterThanOrEqual(0.9 * real.originSendsPerBatch)
      expect(result.perRecord.originSends.mean).toBeLessThanOrEqual(1.1 * real.originSendsPerBatch)
    },
  )
})
