import { DEFAULT_MAX_CONNECTIONS } from '@tlsmesh/mesh'
import { describe, expect, it } from 'vitest'
import { SCENARIOS } from '../scenarios.ts'
import { DEFAULT_OPTIONS, runSimulation, type SimOptions } from '../simulation.ts'

// One hundred seeds at N = 200, the four scenarios in turn, with the invariants checked after every
// run. A failing seed replays exactly:
//   pnpm sim --nodes 200 --records 20 --warmup-records 10 --scenario <scenario> --seed <seed>

const SEEDS = 100
const RUN: Omit<SimOptions, 'seed' | 'scenario'> = {
  ...DEFAULT_OPTIONS,
  nodes: 200,
  records: 20,
  warmupRecords: 10,
}

const runs = Array.from({ length: SEEDS }, (_, i) => ({
  seed: i + 1,
  scenario: SCENARIOS[i % SCENARIOS.length]!,
}))

describe('pnpm sim, seed sweep', () => {
  it.each(runs)(
    'seed $seed, $scenario: every live node holds every record, and nothing else',
    async ({ seed, scenario }) => {
      const result = await runSimulation({ ...RUN, seed, scenario })
      const d = result.delivery
      expect(d.expected).toBeGreaterThan(0)
      // Every (record, node) pair is held by the end, by the tree or, for the pairs cut off when
      // the record was published, by catch-up.
      expect(d.missing).toEqual([])
      expect(d.catchUpPairsHeld).toBe(d.catchUpPairs)
      expect(result.invariants.foreignRecords).toBe(0)
      expect(result.invariants.maxReplicaEntries).toBeLessThanOrEqual(RUN.records + RUN.warmupRecords)
      expect(result.invariants.maxLinks).toBeLessThanOrEqual(DEFAULT_MAX_CONNECTIONS)
    },
  )
})
