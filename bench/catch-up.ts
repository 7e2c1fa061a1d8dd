// Catch-up: a node is down while the fleet creates sessions; after it restarts (empty replica), how
// long until it holds all of them? And what did the reconciliation cost against a full copy, in bytes
// and in CPU: the restarted node's from its first status to the last (its start-up is left out) and
// the other nodes' over the same window, per record pulled. On this shared 2-core host the CPU is a
// steadier measure than the time.
//   node --import tsx bench/catch-up.ts [--nodes 3] [--records 10000] [--repeat 3]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress, spread, writeResult } from './lib/bench-report.ts'
import { cpuMs, startMeshFleet } from './lib/mesh-fleet.ts'

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
const pullerUsPerRecord: number[] = []
const serversUsPerRecord: number[] = []
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
    const first = await fleet.status()
    let reports = first
    let report = first[victim]!
    while (Date.now() - started < 30_000) {
      reports = await fleet.status()
      report = reports[victim]!
      held = report.mesh.realms[realm]?.entries ?? 0
      if (held >= expected) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const ms = Date.now() - started
    catchUpMs.push(ms)
    syncBytes.push(report.mesh.sync.bytesReceived + report.mesh.sync.bytesSent)
    const pulled = Math.max(1, report.mesh.sync.recordsPulled)
    const spent = reports.map((r, i) => cpuMs(r) - cpuMs(first[i]!))
    pullerUsPerRecord.push((spent[victim]! * 1000) / pulled)
    serversUsPerRecord.push((spent.reduce((a, b) => a + b, 0) - spent[victim]!) * (1000 / pulled))
    progress(
      `run ${r + 1}/${repeat}: restarted node holds ${held}/${expected} records ${ms} ms after its process started ` +
        `(sync: ${report.mesh.sync.recordsPulled} pulled, ${report.mesh.sync.bytesReceived} bytes in; CPU per record ` +
        `${pullerUsPerRecord.at(-1)!.toFixed(1)} us there, ${serversUsPerRecord.at(-1)!.toFixed(1)} us on the others)`,
    )
  }
} finally {
  await fleet.stop()
  rmSync(dir, { recursive: true, force: true })
}
const result = {
  nodes,
  recordsPerRun: records,
  catchUpMs: spread(catchUpMs),
  syncBytes: spread(syncBytes),
  pullerCpuUsPerRecord: spread(pullerUsPerRecord),
  serversCpuUsPerRecord: spread(serversUsPerRecord),
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
process.exit(0)
