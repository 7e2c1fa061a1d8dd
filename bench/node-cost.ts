// What one node costs per record, node by node: N processes, node 0 publishing, and for each node the
// user and system CPU per record and the bytes it received and sent per record. With N = 3 there is no
// relaying, so a leaf's figure is the cost of receiving, checking and storing a record, which the
// designs can be compared on. Not part of `pnpm bench` (a diagnostic).
//   node --import tsx bench/node-cost.ts [--nodes 3] [--designs push,tree] [--records 20000] [--rate 2000]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress, requireWholeNumbers, writeResult } from './lib/bench-report.ts'
import { startMeshFleet } from './lib/mesh-fleet.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    designs: { type: 'string', default: 'push,tree' },
    records: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '2000' },
    out: { type: 'string', default: 'node-cost' },
  },
})
const nodes = Number(values.nodes)
const records = Number(values.records)
const rate = Number(values.rate)
requireWholeNumbers('node-cost', { nodes, records, rate })
const designs = values.designs.split(',')
for (const design of designs) {
  if (!['push', 'gossipsub', 'tree'].includes(design)) {
    console.error(`node-cost: unknown design ${design} (push, gossipsub, tree)`)
    process.exit(2)
  }
}

const realm = 'cost'
const rows: Array<Record<string, unknown>> = []
for (const design of designs) {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-cost-'))
  const fleet = await startMeshFleet({
    nodes,
    dir,
    realms: [realm],
    mode: design === 'push' ? 'push' : 'gossip',
    dissemination: design === 'tree' ? 'tree' : 'gossipsub',
  })
  try {
    if (design !== 'push') await fleet.waitForMesh(Math.min(nodes - 1, 4), realm, 60_000)
    const publish = (count: number) =>
      fleet.publish(0, { realm, count, ratePerSecond: rate, valueBytes: 200, burst: 64 })
    await publish(2000)
    await new Promise((r) => setTimeout(r, 1000))
    const before = await fleet.status()
    await publish(records)
    await new Promise((r) => setTimeout(r, 1000))
    const after = await fleet.status()
    for (let i = 0; i < nodes; i++) {
      const [a, b] = [after[i]!, before[i]!]
      const row = {
        design,
        node: i,
        userUsPerRecord: (a.cpu.user - b.cpu.user) / records,
        systemUsPerRecord: (a.cpu.system - b.cpu.system) / records,
        receivedBytesPerRecord: (a.bytes.received - b.bytes.received) / records,
        sentBytesPerRecord: (a.bytes.sent - b.bytes.sent) / records,
      }
      rows.push(row)
      progress(
        `${design} node ${i}: user ${row.userUsPerRecord.toFixed(1)} us, system ${row.systemUsPerRecord.toFixed(1)} us, ` +
          `received ${row.receivedBytesPerRecord.toFixed(0)} B, sent ${row.sentBytesPerRecord.toFixed(0)} B per record`,
      )
    }
  } finally {
    await fleet.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
progress(`wrote ${writeResult(values.out, { nodes, records, rate, rows })}`)
process.exit(0)
