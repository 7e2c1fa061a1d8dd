// How a broadcast tree settles when a fleet starts under load: N node processes, node 0 publishing
// from the first second (optionally after a gentler warm-up), and every second the fleet's payload
// copies, duplicates, GRAFTs and PRUNEs, the origin's copies per batch and the eager links per node.
// Not part of `pnpm bench` (a diagnostic for the tree's start-up, which scale.ts warms up past). CPU
// is read from each node's status reply; a saturated node answers late, so a row's CPU can exceed
// the host's cores while the next rows make up for it.
//   node --import tsx bench/tree-settle.ts [--nodes 20] [--rate 2000] [--seconds 8]
//     [--warmup-rate 0] [--max-eager-peers 6] [--out tree-settle]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress, requireWholeNumbers, writeResult } from './lib/bench-report.ts'
import { type NodeReport, startMeshFleet } from './lib/mesh-fleet.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '8' },
    /** Records per second for 5 s before the measured load (0: none, a cold start under load). */
    'warmup-rate': { type: 'string', default: '0' },
    'max-eager-peers': { type: 'string' },
    out: { type: 'string', default: 'tree-settle' },
  },
})
const nodes = Number(values.nodes)
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const warmupRate = Number(values['warmup-rate'])
const maxEagerPeers = values['max-eager-peers'] === undefined ? undefined : Number(values['max-eager-peers'])
requireWholeNumbers('tree-settle', { nodes, rate, seconds, 'max-eager-peers': maxEagerPeers })
requireWholeNumbers('tree-settle', { 'warmup-rate': warmupRate }, 0)

const realm = 'settle'
const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-settle-'))
const fleet = await startMeshFleet({
  nodes,
  dir,
  realms: [realm],
  dissemination: 'tree',
  ...(maxEagerPeers !== undefined ? { maxEagerPeers } : {}),
})
try {
  await fleet.waitForMesh(Math.min(nodes - 1, 4), realm, 60_000)
  const publishing = (async () => {
    if (warmupRate > 0) {
      await fleet.publish(0, {
        realm,
        count: warmupRate * 5,
        ratePerSecond: warmupRate,
        valueBytes: 200,
        burst: 64,
      })
    }
    await fleet.publish(0, { realm, count: rate * seconds, ratePerSecond: rate, valueBytes: 200, burst: 64 })
  })()
  const totals = (reports: NodeReport[]) => {
    const sum = (pick: (b: NonNullable<NodeReport['mesh']['broadcast']>) => number) =>
      reports.reduce((total, r) => total + (r.mesh.broadcast ? pick(r.mesh.broadcast) : 0), 0)
    return {
      payloads: sum((b) => b.payloadsSent),
      duplicates: sum((b) => b.duplicates),
      received: sum((b) => b.payloadsReceived),
      spared: sum((b) => b.payloadsSpared),
      relays: sum((b) => b.relaysBeforeArrival),
      grafts: sum((b) => b.graftsSent),
      prunes: sum((b) => b.prunesSent),
      declined: sum((b) => b.graftsDeclined),
      shed: sum((b) => b.linksShed),
      reopened: sum((b) => b.linksReopened),
      abandoned: sum((b) => b.missingAbandoned),
      dropped: sum((b) => b.framesDropped),
      batches: sum((b) => b.originated),
      originCopies: sum((b) => b.originPayloadsSent),
      cpuMs: reports.reduce((total, r) => total + (r.cpu.user + r.cpu.system) / 1000, 0),
    }
  }
  const rows: Array<Record<string, unknown>> = []
  let previous = totals(await fleet.status())
  let previousAt = Date.now()
  const started = previousAt
  const total = (warmupRate > 0 ? 5 : 0) + seconds + 2
  // One row a second, or as often as a saturated fleet answers its status requests.
  for (let row = 1; row <= total; row++) {
    await new Promise((r) => setTimeout(r, 1000))
    const reports = await fleet.status()
    const at = Date.now()
    const elapsedMs = at - previousAt
    previousAt = at
    const now = totals(reports)
    const delta = Object.fromEntries(
      Object.entries(now).map(([k, v]) => [k, Math.round(v - previous[k as keyof typeof now])]),
    ) as typeof now
    previous = now
    const eager = reports.map((r) => Object.values(r.mesh.broadcast?.realms ?? {})[0]?.eagerPeers ?? 0)
    const connections = reports.reduce((total, r) => total + r.connections, 0)
    const entry = {
      atMs: at - started,
      elapsedMs,
      ...delta,
      originCopiesPerBatch: delta.batches > 0 ? delta.originCopies / delta.batches : 0,
      payloadsPerBatch: delta.batches > 0 ? delta.payloads / delta.batches : 0,
      eagerPeers: eager,
      connections,
    }
    rows.push(entry)
    const depth = delta.received > 0 ? (delta.relays / delta.received).toFixed(2) : '-'
    const parts = [
      `${delta.batches} batches`,
      `${entry.payloadsPerBatch.toFixed(1)} copies per batch`,
      `${entry.originCopiesPerBatch.toFixed(1)} of them from the origin`,
      `${delta.duplicates} duplicates`,
      `${delta.spared} spared`,
      `${delta.grafts} GRAFTs (${delta.declined} declined)`,
      `${delta.prunes} PRUNEs`,
      `${delta.shed} shed`,
      `${depth} relays per arrival`,
      `${delta.reopened} links reopened`,
      `${delta.abandoned} abandoned`,
      `${delta.dropped} frames dropped`,
      `${connections} connections`,
      `CPU ${((delta.cpuMs / elapsedMs) * 100).toFixed(0)}% of a core`,
    ]
    progress(`${(entry.atMs / 1000).toFixed(1)} s: ${parts.join(', ')}; eager ${eager.join(',')}`)
  }
  await publishing
  const file = writeResult(values.out, { nodes, rate, seconds, warmupRate, maxEagerPeers, rows })
  progress(`wrote ${file}`)
} finally {
  await fleet.stop()
  rmSync(dir, { recursive: true, force: true })
}
