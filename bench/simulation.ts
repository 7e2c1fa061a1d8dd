// The simulator (sim/, `pnpm sim`: the real Plumtree, catch-up and store on N simulated nodes, in
// virtual time) at N = 10 to 10,000: the steady scenario at each N, the fault scenarios at N = 1,000,
// and the simulator against the real processes of bench/results/scale.json. Virtual time makes every
// figure but the wall time the same on any machine, so each row is one run of seed 1.
//   node --max-old-space-size=8192 --import tsx bench/simulation.ts [--sizes 10,100,1000]
//     [--fault-nodes 1000] [--out simulation]
// N = 10,000 peaks at 4.4 GB of RSS: past Node's default heap limit (~4 GB).
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { readRealTreeRows } from '../sim/real-scale.ts'
import { PARTITION_HEAL_AT_MS as HEAL_AT_MS, type ScenarioName } from '../sim/scenarios.ts'
import {
  DEFAULT_OPTIONS,
  runSimulation,
  SCALE_BENCH_CONDITIONS,
  type SimOptions,
  type SimResult,
} from '../sim/simulation.ts'
import { progress, RESULTS_DIR, requireWholeNumbers, writeResult } from './lib/bench-report.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,20,50,100,200,500,1000,2000,5000,10000' },
    'fault-nodes': { type: 'string', default: '1000' },
    out: { type: 'string', default: 'simulation' },
  },
})
const sizes = values.sizes.split(',').map(Number)
const faultNodes = Number(values['fault-nodes'])
for (const nodes of sizes) requireWholeNumbers('simulation', { sizes: nodes }, 2)
requireWholeNumbers('simulation', { 'fault-nodes': faultNodes }, 2)

/**
 * From this N, half the measured records at five times the rate: a run's time grows with N times the
 * records. The warm-up stays at 50: after 10 (sim/README.md's N = 10,000 run) the tree is still
 * forming when 50 records/s begin, and the row measures its settling (N = 2,000: 15 GRAFTs per
 * record and a p99 of 494 ms, against none and 97 ms after 50).
 */
const LARGE_N = 2000
const LARGE_N_RECORDS = { records: 100, rate: 50 }
const FAULT_SCENARIOS: ScenarioName[] = ['crash', 'partition', 'churn']

async function timed(options: SimOptions): Promise<{ result: SimResult; wallSeconds: number }> {
  const began = performance.now()
  const result = await runSimulation(options, progress)
  const wallSeconds = Number(((performance.now() - began) / 1000).toFixed(2))
  const rssMb = Math.round(process.resourceUsage().maxRSS / 1024)
  progress(`${options.scenario} N=${options.nodes}: ${wallSeconds} s wall (process peak RSS ${rssMb} MB)`)
  return { result, wallSeconds }
}

async function steadyRow(nodes: number) {
  const options = { ...DEFAULT_OPTIONS, nodes, ...(nodes >= LARGE_N ? LARGE_N_RECORDS : {}) }
  const { result, wallSeconds } = await timed(options)
  const { perRecord, treeDepth, latencyMs, delivery } = result
  return {
    nodes,
    copiesPerRecord: perRecord.payloadCopies.mean,
    copiesPerDelivery: result.copiesPerDelivery,
    originSends: { mean: perRecord.originSends.mean, max: perRecord.originSends.max },
    ihaveBytesPerRecord: perRecord.ihaveBytes.mean,
    grafts: perRecord.grafts.mean,
    treeDepth: { mean: treeDepth.mean, max: treeDepth.max },
    lastDeliveryHops: result.lastDeliveryHops.mean,
    latencyMs: { p50: latencyMs.p50, p99: latencyMs.p99, max: latencyMs.max },
    delivery: { expected: delivery.expected, delivered: delivery.delivered, fraction: delivery.fraction },
    linksPerNode: result.nodesAtEnd.degree.mean,
    wallSeconds,
    options,
  }
}

async function faultRow(scenario: ScenarioName) {
  const options = { ...DEFAULT_OPTIONS, scenario, nodes: faultNodes }
  const { result, wallSeconds } = await timed(options)
  const d = result.delivery
  return {
    scenario,
    nodes: faultNodes,
    delivery: {
      expected: d.expected,
      delivered: d.delivered,
      fraction: d.fraction,
      catchUpPairs: d.catchUpPairs,
      catchUpPairsHeld: d.catchUpPairsHeld,
      lastCatchUpArrivalMs: d.lastCatchUpArrivalMs,
      maxPairLatencyMs: d.maxPairLatencyMs,
    },
    ...(scenario === 'partition' ? { lastCatchUpAfterHealMs: d.lastCatchUpArrivalMs - HEAL_AT_MS } : {}),
    copiesPerDelivery: result.copiesPerDelivery,
    latencyMs: { p50: result.latencyMs.p50, p99: result.latencyMs.p99 },
    wallSeconds,
    options,
  }
}

/** The tree rows of the last real scale run up to N = 20, as sim/test/agreement.test.ts checks them. */
async function agreement() {
  const real = readRealTreeRows(join(RESULTS_DIR, 'scale.json'))
  if (real === undefined) return undefined
  const rows = []
  for (const row of real.rows) {
    const options = { ...DEFAULT_OPTIONS, ...SCALE_BENCH_CONDITIONS, nodes: row.nodes, records: real.batches }
    const { result, wallSeconds } = await timed(options)
    rows.push({
      nodes: row.nodes,
      sim: {
        copiesPerBatch: result.perRecord.payloadCopies.mean,
        originSendsPerBatch: result.perRecord.originSends.mean,
        linksPerNode: result.nodesAtEnd.degree.mean,
        deliveryFraction: result.delivery.fraction,
      },
      real: { ...row, copiesPerBatch: Number(row.copiesPerBatch.toFixed(2)) },
      wallSeconds,
      options,
    })
  }
  return { batches: real.batches, rows }
}

const began = performance.now()
const steady = []
for (const nodes of sizes) steady.push(await steadyRow(nodes))
const faults = []
for (const scenario of FAULT_SCENARIOS) faults.push(await faultRow(scenario))
const result = {
  seed: DEFAULT_OPTIONS.seed,
  healAtMs: HEAL_AT_MS,
  largeN: { from: LARGE_N, ...LARGE_N_RECORDS },
  steady,
  faults,
  agreement: await agreement(),
  totalWallSeconds: Math.round((performance.now() - began) / 1000),
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path} in ${result.totalWallSeconds} s`)
