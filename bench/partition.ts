// Partition and heal (issue 5: "two halves of a fleet partitioned for 60 s converge within 10 s of the
// heal"): node processes in network namespaces, two switches joined by one trunk; the trunk goes down
// for --partition-s while each half publishes, then comes back. Reports, per run, the time from the
// heal until every node holds every record, and until every node is connected to every other again.
// Needs root (network namespaces); nothing leaves the namespaces it creates.
//   node --import tsx bench/partition.ts [--partition-s 60] [--nodes-per-side 2] [--records 200] [--repeat 3]
import { parseArgs } from 'node:util'
import { netnsUnavailableReason } from '../test/e2e/lib/netns.ts'
import { type PartitionScenarioResult, runPartitionScenario } from '../test/e2e/lib/netns-partition.ts'
import { progress, spread, writeResult } from './lib/bench-report.ts'

const { values } = parseArgs({
  options: {
    'partition-s': { type: 'string', default: '60' },
    'nodes-per-side': { type: 'string', default: '2' },
    records: { type: 'string', default: '200' },
    repeat: { type: 'string', default: '3' },
    'timeout-s': { type: 'string', default: '60' },
    out: { type: 'string', default: 'partition' },
  },
})
const unavailable = netnsUnavailableReason()
if (unavailable !== undefined) {
  console.error(`bench/partition.ts: ${unavailable}`)
  process.exit(2)
}
const partitionMs = Number(values['partition-s']) * 1000
const nodesPerSide = Number(values['nodes-per-side'])
const recordsPerSide = Number(values.records)
const repeat = Number(values.repeat)

const runs: PartitionScenarioResult[] = []
for (let r = 0; r < repeat; r++) {
  const result = await runPartitionScenario({
    nodesPerSide,
    partitionMs,
    recordsPerSide,
    convergeTimeoutMs: Number(values['timeout-s']) * 1000,
    log: (line) => progress(`run ${r + 1}/${repeat}: ${line}`),
  })
  runs.push(result)
}

const measured = (pick: (r: PartitionScenarioResult) => number | null): number[] =>
  runs.map(pick).filter((v): v is number => v !== null)
const result = {
  nodes: nodesPerSide * 2,
  partitionMs,
  recordsPerSide,
  /** Heal -> every node holds every record. */
  convergeMs: spread(measured((r) => r.convergeMs)),
  /** Heal -> every node connected to every other. */
  reconnectMs: spread(measured((r) => r.reconnectMs)),
  notConverged: runs.filter((r) => r.convergeMs === null).length,
  leakedAcrossPartition: runs.reduce((n, r) => n + r.leakedAcrossPartition, 0),
  /** Links across the cut still open just before the heal, per run (each node's peer count). */
  connectedPeersAtHeal: runs.map((r) => r.atHeal.map((s) => s.connectedPeers)),
  recordsPulledBySync: runs.map((r) =>
    r.atEnd.map((s, i) => s.sync.recordsPulled - (r.atHeal[i]?.sync.recordsPulled ?? 0)),
  ),
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
process.exit(result.notConverged > 0 ? 1 : 0)
