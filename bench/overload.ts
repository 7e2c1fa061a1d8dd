// Overload: N node processes pinned to one core, offered more records than that core can carry, the
// tree beside push. Each design gets the same calm warm-up, a calm phase (its steady propagation),
// an overload phase (records/s well past what push carries), then calm again: how many bytes and how
// much CPU each record cost under overload, how late it arrived, and how soon after the overload
// ended records arrived as fast as before it. Designs alternate run by run.
//   node --import tsx bench/overload.ts [--nodes 20] [--rate 4000] [--records 4000] [--calm-rate 100]
//     [--recovery-seconds 15] [--cpu 1] [--repeat 2] [--out overload]
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { percentile, progress, requireWholeNumbers, spread, writeResult } from './lib/bench-report.ts'
import { cpuMs, type MeshFleet, type NodeReport, startMeshFleet, sum } from './lib/mesh-fleet.ts'
import { type Propagation, propagationOf } from './lib/propagation.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    rate: { type: 'string', default: '4000' },
    records: { type: 'string', default: '4000' },
    'calm-rate': { type: 'string', default: '100' },
    'recovery-seconds': { type: 'string', default: '15' },
    cpu: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '2' },
    out: { type: 'string', default: 'overload' },
  },
})
const nodes = Number(values.nodes)
const rate = Number(values.rate)
const records = Number(values.records)
const calmRate = Number(values['calm-rate'])
const recoverySeconds = Number(values['recovery-seconds'])
const repeat = Number(values.repeat)
requireWholeNumbers('overload', {
  nodes,
  rate,
  records,
  'calm-rate': calmRate,
  'recovery-seconds': recoverySeconds,
  repeat,
})
const realm = 'overload'
const burst = 64
const valueBytes = 200
/** Batches published while the tree forms (it sheds the origin's star one link per 250 ms). */
const WARMUP_BATCHES = 100
/** Records/s of the warm-up: about what one core carries at N = 20. */
const WARMUP_RATE = 400
/** Records of the calm phase before the overload: their propagation is the steady state. */
const CALM_RECORDS = 640
/** Propagation counts as back to steady once it stays under this multiple of the calm p99. */
const RECOVERED_FACTOR = 1.5
/** Nor above the calm p99 plus this (a calm p99 of a few ms leaves no room for scheduling noise). */
const RECOVERED_SLACK_MS = 20

type Design = 'push' | 'tree'
const designs: Design[] = ['push', 'tree']

const treeSum = (reports: NodeReport[], pick: (s: NonNullable<NodeReport['mesh']['broadcast']>) => number) =>
  sum(reports, (r) => (r.mesh?.broadcast ? pick(r.mesh.broadcast) : 0))

/** Every thread of every node process onto one core: a host with less CPU than the fleet wants. */
function pin(fleet: MeshFleet, cpu: string): void {
  for (const child of fleet.nodes)
    execFileSync('taskset', ['-a', '-cp', cpu, String(child.pid)], { stdio: 'ignore' })
}

/** Ids node 0 has published so far. */
async function publishedIds(fleet: MeshFleet): Promise<Set<string>> {
  return new Set((await fleet.arrivals(realm))[0]!.published.map(([id]) => id))
}

/** Waits (up to 30 s) until every node has received `expected` records in all. */
async function settle(fleet: MeshFleet, expected: number): Promise<NodeReport[]> {
  const deadline = Date.now() + 30_000
  let reports = await fleet.status()
  while (Date.now() < deadline && reports.slice(1).some((r) => r.received < expected)) {
    await new Promise((r) => setTimeout(r, 200))
    reports = await fleet.status()
  }
  return reports
}

/**
 * Milliseconds from the end of the overload (the last overload record's creation) until the calm
 * records that follow arrive as fast as before it, for good: the creation time of the first calm
 * record after which none took longer than the threshold. Infinity if the last one still did.
 */
function recoveryMs(after: Propagation[], overloadEnd: number, thresholdMs: number): number {
  const sorted = [...after].sort((a, b) => a.created - b.created)
  let lastSlow = -1
  for (const [i, record] of sorted.entries()) if (record.delayMs > thresholdMs) lastSlow = i
  if (lastSlow === sorted.length - 1) return Number.POSITIVE_INFINITY
  return Math.max(0, (lastSlow < 0 ? overloadEnd : sorted[lastSlow + 1]!.created) - overloadEnd)
}

async function run(design: Design): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-overload-'))
  let fleet: MeshFleet | undefined
  try {
    fleet = await startMeshFleet({
      nodes,
      dir,
      realms: [realm],
      mode: design === 'push' ? 'push' : 'gossip',
      dissemination: 'tree',
    })
    if (design === 'tree') await fleet.waitForMesh(Math.min(nodes - 1, 4), realm, 60_000)
    pin(fleet, values.cpu)
    const publish = (count: number, ratePerSecond: number) =>
      fleet!.publish(0, { realm, count, ratePerSecond, valueBytes, burst })
    let sent = burst * WARMUP_BATCHES
    await publish(sent, WARMUP_RATE)
    // The warm-up's backlog drains before the calm phase: its records would measure it.
    await settle(fleet, sent)
    await new Promise((r) => setTimeout(r, 2000))
    const warm = await publishedIds(fleet)
    const beforeCalm = await fleet.status()
    await publish(CALM_RECORDS, calmRate)
    sent += CALM_RECORDS
    await settle(fleet, sent)
    const calm = propagationOf(await fleet.arrivals(realm), (id) => !warm.has(id)).map((r) => r.delayMs)
    const calmP99 = percentile(calm, 0.99)
    const beforeOverload = await publishedIds(fleet)
    const before = await fleet.status()
    const calmGrafts = treeSum(before, (s) => s.graftsSent) - treeSum(beforeCalm, (s) => s.graftsSent)
    await publish(records, rate)
    const overloadIds = await publishedIds(fleet)
    sent += records
    // The calm records right behind the overload show how soon the fleet is back to its steady state.
    await publish(calmRate * recoverySeconds, calmRate)
    sent += calmRate * recoverySeconds
    const after = await settle(fleet, sent)
    const arrivals = await fleet.arrivals(realm)
    const overload = propagationOf(arrivals, (id) => overloadIds.has(id) && !beforeOverload.has(id))
    const overloadEnd = Math.max(...overload.map((r) => r.created))
    const recovery = propagationOf(arrivals, (id) => !overloadIds.has(id))
    const threshold = Math.max(RECOVERED_FACTOR * calmP99, calmP99 + RECOVERED_SLACK_MS)
    const delays = overload.map((r) => r.delayMs)
    const overloadStart = Math.min(...overload.map((r) => r.created))
    const row = {
      design,
      calmP50Ms: percentile(calm, 0.5),
      calmP99Ms: calmP99,
      calmGrafts,
      delivered: overload.length / records,
      p50Ms: percentile(delays, 0.5),
      p99Ms: percentile(delays, 0.99),
      // How fast the origin got its records out, and when the last of them reached every node.
      madeMs: overloadEnd - overloadStart,
      drainedMs: Math.max(...overload.map((r) => r.created + r.delayMs)) - overloadStart,
      // Over the overload and the calm records behind it, which carry its backlog.
      bytesPerRecord:
        (sum(after, (r) => r.bytes.sent) - sum(before, (r) => r.bytes.sent)) /
        (records + calmRate * recoverySeconds),
      cpuMsPerRecord: (sum(after, cpuMs) - sum(before, cpuMs)) / (records + calmRate * recoverySeconds),
      grafts: treeSum(after, (s) => s.graftsSent) - treeSum(before, (s) => s.graftsSent),
      recoveryMs: recoveryMs(recovery, overloadEnd, threshold),
    }
    progress(
      `${design}: calm p50 ${row.calmP50Ms} ms p99 ${calmP99} ms, ${calmGrafts} GRAFTs; overload delivered ${(row.delivered * 100).toFixed(1)}%, ` +
        `p50 ${row.p50Ms} ms p99 ${row.p99Ms} ms, made in ${row.madeMs} ms, all everywhere after ${row.drainedMs} ms, ${row.bytesPerRecord.toFixed(0)} B/record, ` +
        `CPU ${row.cpuMsPerRecord.toFixed(3)} ms/record, ${row.grafts} GRAFTs; back to steady ${row.recoveryMs} ms after`,
    )
    return row
  } finally {
    await fleet?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const runs: Array<Record<string, unknown>> = []
for (let i = 0; i < repeat; i++) {
  for (const design of i % 2 === 0 ? designs : [...designs].reverse())
    runs.push({ run: i, ...(await run(design)) })
}
const fields = [
  'calmP50Ms',
  'calmP99Ms',
  'calmGrafts',
  'delivered',
  'p50Ms',
  'p99Ms',
  'madeMs',
  'drainedMs',
  'bytesPerRecord',
  'cpuMsPerRecord',
  'grafts',
  'recoveryMs',
]
const rows = designs.map((design) => {
  const mine = runs.filter((r) => r.design === design)
  return { design, ...Object.fromEntries(fields.map((f) => [f, spread(mine.map((r) => r[f] as number))])) }
})
const path = writeResult(values.out, {
  nodes,
  rate,
  records,
  calmRate,
  recoverySeconds,
  cpu: values.cpu,
  burst,
  rows,
  runs,
})
console.log(JSON.stringify(rows, null, 2))
progress(`wrote ${path}`)
process.exit(0)
