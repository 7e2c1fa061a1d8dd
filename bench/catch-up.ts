// Catch-up: a node is down while the fleet creates sessions; after it restarts (empty replica), how
// long until it holds all of them? And what did the reconciliation cost against a full copy?
//   node --import tsx bench/catch-up.ts [--nodes 3] [--records 10000] [--repeat 3]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress, spread, writeResult } from './lib/bench-report.ts'
import { startMeshFleet } from './lib/mesh-fleet.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    records: { type: 'string', default: '10000' },
    repeat: { type: 'string', default: '3' },
    out: { type: 'string', default: 'catch-up' },
  },
})
const nodes = Number(values.nodes)
const records = Number(values.records)
const repeat = Number(values.repeat)
const realm = 'catch-up'
const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-bench-'))
const fleet = await startMeshFleet({ nodes, dir, realms: [realm] })
const catchUpMs: number[] = []
const syncBytes: number[] = []
try {
  await fleet.waitForMesh(Math.min(nodes - 1, 4), realm)
  let expected = 0
  for (let r = 0; r < repeat; r++) {
    const victim = nodes - 1
    await fleet.kill(victim)
    await fleet.publish(0, { realm, count: records, ratePerSecond: 20_000, valueBytes: 200 })
    expected += records
    const started = Date.now()
    await fleet.restart(victim)
    let held = 0
    let report = (await fleet.status())[victim]!
    while (Date.now() - started < 30_000) {
      report = (await fleet.status())[victim]!
      held = report.mesh.realms[realm]?.entries ?? 0
      if (held >= expected) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const ms = Date.now() - started
    catchUpMs.push(ms)
    syncBytes.push(report.mesh.sync.bytesReceived + report.mesh.sync.bytesSent)
    progress(
      `run ${r + 1}/${repeat}: restarted node holds ${held}/${expected} records ${ms} ms after its process started ` +
        `(sync: ${report.mesh.sync.recordsPulled} pulled, ${report.mesh.sync.bytesReceived} bytes in)`,
    )
  }
} finally {
  await fleet.stop()
  rmSync(dir, { recursive: true, force: true })
}
const result = { nodes, recordsPerRun: records, catchUpMs: spread(catchUpMs), syncBytes: spread(syncBytes) }
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
process.exit(0)
