// Memory: heap and RSS growth of the replica at 100,000 and 1,000,000 records against the payload
// bytes (id + value), each size in a fresh process: the store alone, and the store with the catch-up
// digest a mesh node keeps beside it, and then the proofs of its batches (what a node holds per record).
//   node --import tsx bench/memory.ts [--counts 100000,1000000] [--value-bytes 200] [--repeat 3]
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { progress, spread, writeResult } from './lib/bench-report.ts'

const run = promisify(execFile)
const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '100000,1000000' },
    'value-bytes': { type: 'string', default: '200' },
    repeat: { type: 'string', default: '3' },
    out: { type: 'string', default: 'memory' },
  },
})
/** Records per signed batch in the rows with proofs: what the bench's publishers send (node-cost, scale). */
const PROOF_BATCH = 64
const probe = fileURLToPath(new URL('./lib/memory-probe.ts', import.meta.url))
const rows = []
for (const count of values.counts.split(',').map(Number)) {
  for (const { digest, proofBatch } of [
    { digest: false, proofBatch: 0 },
    { digest: true, proofBatch: 0 },
    { digest: true, proofBatch: PROOF_BATCH },
  ]) {
    const runs: Array<Record<string, number>> = []
    for (let r = 0; r < Number(values.repeat); r++) {
      const { stdout } = await run(
        process.execPath,
        [
          '--expose-gc',
          '--max-old-space-size=8192',
          '--import',
          'tsx',
          probe,
          JSON.stringify({ count, valueBytes: Number(values['value-bytes']), digest, proofBatch }),
        ],
        { timeout: 300_000, maxBuffer: 1 << 20 },
      )
      const m = JSON.parse(stdout) as Record<string, number>
      runs.push(m)
      progress(
        `${count} records${digest ? ' with digest' : ''}${proofBatch > 0 ? ' and proofs' : ''} run ${r + 1}: heap +${(m.heapGrowthBytes! / 1e6).toFixed(1)} MB, RSS +${(m.rssGrowthBytes! / 1e6).toFixed(1)} MB, ` +
          `${m.bytesPerRecord!.toFixed(0)} B/record, ${m.totalOverPayload!.toFixed(2)}x payload`,
      )
    }
    rows.push({
      count,
      digest,
      proofBatch,
      payloadBytes: runs[0]!.payloadBytes,
      heapGrowthBytes: spread(runs.map((m) => m.heapGrowthBytes!)),
      rssGrowthBytes: spread(runs.map((m) => m.rssGrowthBytes!)),
      bytesPerRecord: spread(runs.map((m) => m.bytesPerRecord!)),
      totalOverPayload: spread(runs.map((m) => m.totalOverPayload!)),
      overheadOverPayload: spread(runs.map((m) => m.overheadOverPayload!)),
    })
  }
}
const path = writeResult(values.out, { valueBytes: Number(values['value-bytes']), rows })
console.log(JSON.stringify(rows, null, 2))
progress(`wrote ${path}`)
