// Scale: N node processes on loopback, tlsmesh's gossip mesh beside the full-mesh push it replaces,
// over the same transport. For each N: time for the mesh to form, propagation publish -> every node
// (p50/p99 over records), bytes on the wire per record (origin and whole mesh), CPU per record (all
// nodes), connections per node, the idle cost per node, and how fast a restarted node rejoins.
//   node --import tsx bench/scale.ts [--sizes 3,5,10,20] [--records 4000] [--rate 2000] [--burst 64]
//     [--designs push,gossipsub,tree] [--idle-seconds 30] [--warmup-batches 250] [--max-eager-peers N] [--out scale]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { percentile, progress, requireWholeNumbers, writeResult } from './lib/bench-report.ts'
import { cpuMs, type MeshFleet, type NodeReport, startMeshFleet, sum } from './lib/mesh-fleet.ts'
import { propagationOf } from './lib/propagation.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '3,5,10,20' },
    records: { type: 'string', default: '4000' },
    rate: { type: 'string', default: '2000' },
    burst: { type: 'string', default: '64' },
    'value-bytes': { type: 'string', default: '200' },
    'idle-seconds': { type: 'string', default: '30' },
    'warmup-batches': { type: 'string', default: '250' },
    /** The tree's cap on each node's eager links, so on the copies an origin sends (default DEFAULT_MAX_EAGER_PEERS). */
    'max-eager-peers': { type: 'string' },
    designs: { type: 'string', default: 'push,gossipsub,tree' },
    out: { type: 'string', default: 'scale' },
  },
})
const sizes = values.sizes.split(',').map(Number)
const records = Number(values.records)
const rate = Number(values.rate)
const burst = Number(values.burst)
const valueBytes = Number(values['value-bytes'])
const idleSeconds = Number(values['idle-seconds'])
const warmupBatches = Number(values['warmup-batches'])
const maxEagerPeers = values['max-eager-peers'] === undefined ? undefined : Number(values['max-eager-peers'])
requireWholeNumbers('scale', {
  records,
  rate,
  burst,
  'warmup-batches': warmupBatches,
  'max-eager-peers': maxEagerPeers,
})
type Design = 'push' | 'gossipsub' | 'tree'
const designs = values.designs.split(',') as Design[]
const realm = 'scale'

/**
 * A node restarted with an empty replica (kill -9, then a new process with the same identity, seeded
 * with node 0): milliseconds from spawning the process until it has a neighbour on the realm (gossipsub
 * mesh or tree), and until it holds every record the others hold (anti-entropy catch-up).
 */
async function measureJoin(
  fleet: MeshFleet,
  node: number,
): Promise<{ neighbourMs: number; caughtUpMs: number } | undefined> {
  const held = (await fleet.statusOf(0)).mesh.realms[realm]?.entries ?? 0
  await fleet.kill(node)
  const started = Date.now()
  await fleet.restart(node)
  let neighbourMs: number | undefined
  while (Date.now() - started < 30_000) {
    const { mesh } = await fleet.statusOf(node)
    const tree = mesh.broadcast?.realms[realm]
    const neighbours = (mesh.realms[realm]?.meshPeers ?? 0) + (tree ? tree.eagerPeers + tree.lazyPeers : 0)
    if (neighbourMs === undefined && neighbours > 0) neighbourMs = Date.now() - started
    if (neighbourMs !== undefined && (mesh.realms[realm]?.entries ?? 0) >= held) {
      return { neighbourMs, caughtUpMs: Date.now() - started }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  progress(
    `restarted node ${node} had not ${neighbourMs === undefined ? 'met a neighbour' : 'caught up'} after 30 s`,
  )
  return undefined
}

async function measure(design: Design, n: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-bench-'))
  const started = Date.now()
  let fleet: MeshFleet | undefined
  try {
    fleet = await startMeshFleet({
      nodes: n,
      dir,
      realms: [realm],
      mode: design === 'push' ? 'push' : 'gossip',
      dissemination: design === 'tree' ? 'tree' : 'gossipsub',
      ...(design === 'tree' && maxEagerPeers !== undefined ? { maxEagerPeers } : {}),
    })
    const formMs = design === 'push' ? 0 : await fleet.waitForMesh(Math.min(n - 1, 4), realm, 60_000)
    const readyMs = Date.now() - started

    // Idle: no records; what does keeping the mesh cost?
    await new Promise((r) => setTimeout(r, 2000))
    const idleBefore = await fleet.status()
    const idleStartUs = process.hrtime.bigint() / 1000n
    await new Promise((r) => setTimeout(r, idleSeconds * 1000))
    const idleAfter = await fleet.status()
    if (process.env.TLSMESH_CPU_PROFILE_DIR)
      progress(`idle window (monotonic us) ${idleStartUs} ${process.hrtime.bigint() / 1000n}`)
    const idleBytesPerNodePerSecond =
      (sum(idleAfter, (r) => r.bytes.sent) - sum(idleBefore, (r) => r.bytes.sent)) / n / idleSeconds
    const idleCpuPerNode = (sum(idleAfter, cpuMs) - sum(idleBefore, cpuMs)) / n / (idleSeconds * 1000)
    // Which protocols the idle bytes are (libp2p's per-protocol counters, both directions).
    const idleBytesByProtocol: Record<string, number> = {}
    for (const [i, report] of idleAfter.entries()) {
      for (const [protocol, value] of Object.entries(report.bytes.byProtocol)) {
        if (protocol.startsWith('global')) continue
        const delta = value - (idleBefore[i]!.bytes.byProtocol[protocol] ?? 0)
        idleBytesByProtocol[protocol] = (idleBytesByProtocol[protocol] ?? 0) + delta / n / idleSeconds
      }
    }

    // Warm-up (not measured; 8 s at the defaults), so that what is measured is the steady state: the
    // broadcast tree starts as a star around the busy origin and sheds it down to its cap of eager
    // links one link per 250 ms (DEFAULT_SHED_INTERVAL_MS), each shed node GRAFTing its way below
    // another. gossipsub and push need no warm-up but get the same.
    await fleet.publish(0, {
      realm: `${realm}`,
      count: burst * warmupBatches,
      ratePerSecond: rate,
      valueBytes,
      burst,
    })
    await new Promise((r) => setTimeout(r, 1000))
    const warmed = (await fleet.status()).map((r) => r.received)
    const warmupIds = new Set((await fleet.arrivals(realm))[0]!.published.map(([id]) => id))

    // Load: node 0 publishes `records` in bursts of `burst` at `rate`.
    const before = await fleet.status()
    const loadStartUs = process.hrtime.bigint() / 1000n
    await fleet.publish(0, { realm, count: records, ratePerSecond: rate, valueBytes, burst })
    const deadline = Date.now() + 20_000
    let after = await fleet.status()
    while (Date.now() < deadline && after.slice(1).some((r, i) => r.received - warmed[i + 1]! < records)) {
      await new Promise((r) => setTimeout(r, 100))
      after = await fleet.status()
    }
    const delivered = Math.min(...after.slice(1).map((r, i) => r.received - warmed[i + 1]!)) / records
    if (process.env.TLSMESH_CPU_PROFILE_DIR)
      progress(`load window (monotonic us) ${loadStartUs} ${process.hrtime.bigint() / 1000n}`)
    const measured = propagationOf(await fleet.arrivals(realm), (id) => !warmupIds.has(id))
    const delays = measured.map((record) => record.delayMs)
    const originSent = after[0]!.bytes.sent - before[0]!.bytes.sent
    const totalSent = sum(after, (r) => r.bytes.sent) - sum(before, (r) => r.bytes.sent)
    const cpu = sum(after, cpuMs) - sum(before, cpuMs)
    const treeDelta = (pick: (s: NonNullable<NodeReport['mesh']['broadcast']>) => number): number =>
      sum(after, (r) => (r.mesh?.broadcast ? pick(r.mesh.broadcast) : 0)) -
      sum(before, (r) => (r.mesh?.broadcast ? pick(r.mesh.broadcast) : 0))
    const join = design === 'push' ? undefined : await measureJoin(fleet, n - 1)
    const row = {
      design,
      nodes: n,
      formMs,
      readyMs,
      connectionsPerNode: sum(after, (r) => r.connections) / n,
      delivered,
      propagationP50Ms: percentile(delays, 0.5),
      propagationP99Ms: percentile(delays, 0.99),
      originBytesPerRecord: originSent / records,
      totalBytesPerRecord: totalSent / records,
      cpuMsPerRecord: cpu / records,
      idleBytesPerNodePerSecond,
      idleCpuFractionPerNode: idleCpuPerNode,
      idleBytesByProtocol,
      ...(join !== undefined ? { join } : {}),
      ...(design === 'tree'
        ? {
            tree: {
              originSendsPerBatch:
                treeDelta((s) => s.originPayloadsSent) /
                Math.max(
                  1,
                  treeDelta((s) => s.originated),
                ),
              payloadsSent: treeDelta((s) => s.payloadsSent),
              duplicates: treeDelta((s) => s.duplicates),
              graftsSent: treeDelta((s) => s.graftsSent),
              prunesSent: treeDelta((s) => s.prunesSent),
              eagerPeersPerNode:
                sum(after, (r) => Object.values(r.mesh?.broadcast?.realms ?? {})[0]?.eagerPeers ?? 0) / n,
            },
          }
        : {}),
    }
    progress(
      `${design} N=${n}: formed ${formMs} ms, delivered ${(delivered * 100).toFixed(2)}%, ` +
        `p50 ${row.propagationP50Ms} ms p99 ${row.propagationP99Ms} ms, ` +
        `${row.totalBytesPerRecord.toFixed(0)} B/record total (origin ${row.originBytesPerRecord.toFixed(0)}), ` +
        `CPU ${row.cpuMsPerRecord.toFixed(3)} ms/record, ` +
        (row.tree
          ? `origin sends ${row.tree.originSendsPerBatch.toFixed(1)} per batch, ${row.tree.graftsSent} GRAFTs, `
          : '') +
        (row.join ? `join ${row.join.neighbourMs} ms, caught up ${row.join.caughtUpMs} ms, ` : '') +
        `idle ${idleBytesPerNodePerSecond.toFixed(0)} B/s ` +
        `${(idleCpuPerNode * 100).toFixed(2)}% per node`,
    )
    return row
  } finally {
    await fleet?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const rows: Array<Record<string, unknown>> = []
for (const n of sizes) {
  for (const design of designs) rows.push(await measure(design, n))
}
const path = writeResult(values.out, { records, rate, burst, valueBytes, idleSeconds, warmupBatches, rows })
console.log(JSON.stringify(rows, null, 2))
progress(`wrote ${path}`)
process.exit(0)
