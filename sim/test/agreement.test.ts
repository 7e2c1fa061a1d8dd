import { describe, expect, it } from 'vitest'
import { readRealTreeRows } from '../real-scale.ts'
import { DEFAULT_OPTIONS, runSimulation, SCALE_BENCH_CONDITIONS } from '../simulation.ts'

/** The real processes' figures: the tree rows of the last `pnpm bench` scale run. */
const real = readRealTreeRows(new URL('../../bench/results/scale.json', import.meta.url).pathname)
const realRows = real?.rows ?? []

describe('pnpm sim against the real processes (bench/results/scale.json)', () => {
  it('has real rows to compare with at N = 10 and 20', () => {
    expect(realRows.map((row) => row.nodes)).toEqual(expect.arrayContaining([10, 20]))
  })

  it.each(realRows)(
    'N = $nodes: payload copies and origin sends per batch within 10% of the real fleet',
    async (row) => {
      const conditions = {
        ...DEFAULT_OPTIONS,
        ...SCALE_BENCH_CONDITIONS,
        nodes: row.nodes,
        records: real!.batches,
      }
      const result = await runSimulation(conditions)
      expect(result.delivery.fraction).toBe(1)
      expect(result.perRecord.payloadCopies.mean).toBeGreaterThanOrEqual(0.9 * row.copiesPerBatch)
      expect(result.perRecord.payloadCopies.mean).toBeLessThanOrEqual(1.1 * row.copiesPerBatch)
      expect(result.perRecord.originSends.mean).toBeGreaterThanOrEqual(0.9 * row.originSendsPerBatch)
      expect(result.perRecord.originSends.mean).toBeLessThanOrEqual(1.1 * row.originSendsPerBatch)
    },
  )
})
