// Ingest: how many records per second one node can publish while every other node of the mesh
// receives all of them. Each step publishes `rate x seconds` records into a fresh realm and checks
// that every node holds them all.
//   node --import tsx bench/ingest.ts [--nodes 5] [--rates 5000,10000,20000,30000,40000] [--seconds 2] [--repeat 3]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress, spread, writeResult } from './lib/bench-report.ts'
import { startMeshFleet } from './lib/mesh-fleet.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    rates: { type: 'string', default: '5000,10000,20000,30000,40000' },
    seconds: { type: 'string', default: '2' },
    repeat: { type: 'string', default: '3' },
    'value-bytes': { type: 'string', default: '200' },
    out: { type: 'string', default: 'ingest' },
  },
})
const nodes = Number(values.nodes)
const rates = values.rates.split(',').map(Number)
const seconds = Number(values.seconds)
const repeat = Number(values.repeat)
const valueBytes = Number(values['value-bytes'])
if (![nodes, seconds, repeat, valueBytes, ...rates].every((n) => Number.isFinite(n) && n > 0)) {
  console.error('ingest: --nodes, --rates, --seconds, --repeat and --value-bytes take positive numbers')
  process.exit(2)
}

const realms = rates.flatMap((_, i) => Array.from({ length: repeat }, (_, r) => `ingest-${i}-${r}`))
const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-bench-'))
const fleet = await startMeshFleet({ nodes, dir, realms })
const rows: Array<Record<string, unknown>> = []
try {
  const formedMs = await fleet.waitForMesh(Math.min(nodes - 1, 4), realms[0]!)
  progress(`${nodes} nodes meshed in ${formedMs} ms`)
  for (const [i, rate] of rates.entries()) {
    const delivered: number[] = []
    const completeMs: number[] = []
    for (let r = 0; r < repeat; r++) {
      const realm = `ingest-${i}-${r}`
      const count = Math.round(rate * seconds)
      const cpuBefore = await fleet.status()
      const publishMs = await fleet.publish(0, { realm, count, ratePerSecond: rate, valueBytes })
      const started = Date.now()
      let reports = await fleet.status()
      // Everything should be there within a second of the last publish; wait up to 10 s to count loss.
      while (Date.now() - started < 10_000) {
        if (reports.every((report) => (report.mesh.realms[realm]?.entries ?? 0) >= count)) break
        await new Promise((resolve) => setTimeout(resolve, 50))
        reports = await fleet.status()
      }
      const least = Math.min(...reports.map((report) => report.mesh.realms[realm]?.entries ?? 0))
      delivered.push(least / count)
      completeMs.push(publishMs + (Date.now() - started))
      const cpuMs = reports.reduce(
        (sum, report, n) =>
          sum +
          (report.cpu.user + report.cpu.system - cpuBefore[n]!.cpu.user - cpuBefore[n]!.cpu.system) / 1000,
        0,
      )
      progress(
        `rate ${rate}/s run ${r + 1}/${repeat}: ${count} records, least-served node holds ${((least / count) * 100).toFixed(2)}%, ` +
          `publish ${publishMs.toFixed(0)} ms, all delivered after ${(publishMs + Date.now() - started).toFixed(0)} ms, CPU ${cpuMs.toFixed(0)} ms`,
      )
    }
    rows.push({
      offeredRatePerSecond: rate,
      records: Math.round(rate * seconds),
      deliveredFraction: spread(delivered),
      completeMs: spread(completeMs),
      lossless: delivered.every((d) => d >= 1),
    })
  }
} finally {
  await fleet.stop()
  rmSync(dir, { recursive: true, force: true })
}
const losslessRates = rows.filter((row) => row.lossless).map((row) => row.offeredRatePerSecond as number)
const result = {
  nodes,
  seconds,
  repeat,
  valueBytes,
  rows,
  maxLosslessRatePerSecond: losslessRates.length > 0 ? Math.max(...losslessRates) : 0,
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
process.exit(0)
