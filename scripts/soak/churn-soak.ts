// The churn soak, bounded, outside the normal test run (see churn-soak-run.ts). Prints per long-lived
// node the RSS and heap after warm-up (min/median/max) and their growth; `--json` prints the whole
// result instead. Exits 1 if a node died, missed records, or grew beyond the limits.
//
//   node --import tsx scripts/soak/churn-soak.ts [--seconds 300] [--cycles 20000] [--cycle-rate 0]
//     [--nodes 3] [--publish-rate 50] [--big-every 100] [--warmup-seconds 150]
//     [--record-ttl-ms 120000] [--settle-seconds 40] [--max-rss-growth-mib 40]
//     [--max-heap-growth-mib 8] [--max-external-growth-mib 16] [--protector ours|pnet] [--json]
import '@tlsmesh/mesh/polyfills'
import { parseArgs } from 'node:util'
import { DEFAULT_CHURN_SOAK_OPTIONS as D, runChurnSoak } from './churn-soak-run.ts'

const { values: args } = parseArgs({
  options: {
    cycles: { type: 'string', default: String(D.cycles) },
    seconds: { type: 'string', default: String(D.seconds) },
    'cycle-rate': { type: 'string', default: String(D.cycleRate) },
    nodes: { type: 'string', default: String(D.nodes) },
    'publish-rate': { type: 'string', default: String(D.publishRate) },
    'payload-bytes': { type: 'string', default: String(D.payloadBytes) },
    'big-bytes': { type: 'string', default: String(D.bigBytes) },
    'big-every': { type: 'string', default: String(D.bigEvery) },
    'sample-ms': { type: 'string', default: String(D.sampleMs) },
    'warmup-seconds': { type: 'string', default: String(D.warmupSeconds) },
    'record-ttl-ms': { type: 'string', default: String(D.recordTtlMs) },
    'settle-seconds': { type: 'string', default: String(D.settleSeconds) },
    'max-rss-growth-mib': { type: 'string', default: String(D.maxRssGrowthMiB) },
    'max-heap-growth-mib': { type: 'string', default: String(D.maxHeapGrowthMiB) },
    'max-external-growth-mib': { type: 'string', default: String(D.maxExternalGrowthMiB) },
    'max-failed-cycles': { type: 'string', default: String(D.maxFailedCycles) },
    protector: { type: 'string', default: D.protector },
    json: { type: 'boolean', default: false },
  },
})
if (args.protector !== 'ours' && args.protector !== 'pnet') {
  console.error(`--protector: expected "ours" or "pnet", got "${args.protector}"`)
  process.exit(2)
}

const result = await runChurnSoak({
  cycles: Number(args.cycles),
  seconds: Number(args.seconds),
  cycleRate: Number(args['cycle-rate']),
  nodes: Number(args.nodes),
  publishRate: Number(args['publish-rate']),
  payloadBytes: Number(args['payload-bytes']),
  bigBytes: Number(args['big-bytes']),
  bigEvery: Number(args['big-every']),
  sampleMs: Number(args['sample-ms']),
  warmupSeconds: Number(args['warmup-seconds']),
  recordTtlMs: Number(args['record-ttl-ms']),
  settleSeconds: Number(args['settle-seconds']),
  maxRssGrowthMiB: Number(args['max-rss-growth-mib']),
  maxHeapGrowthMiB: Number(args['max-heap-growth-mib']),
  maxExternalGrowthMiB: Number(args['max-external-growth-mib']),
  maxFailedCycles: Number(args['max-failed-cycles']),
  protector: args.protector,
  ...(args.json ? {} : { log: (line: string) => console.log(line) }),
})

if (args.json) {
  console.log(JSON.stringify(result))
} else {
  const { churn } = result
  console.log(
    `protector ${result.protector}: ${churn.cycles} cycles (${churn.cyclesPerSecond}/s), ${churn.failures} failed, ${Math.round(result.durationMs / 1000)} s`,
  )
  const f = (n: number): string => n.toFixed(1)
  for (const node of result.nodes) {
    const { rss, heap, external } = node.memory
    console.log(
      `node ${node.index}: ${node.exited === null ? 'up' : `EXITED ${node.exited}`}, published ${node.published}, missing ${node.missing ?? '?'} (by sync ${node.bySync ?? '?'}); after warm-up (${rss.count} samples): ` +
        `RSS ${f(rss.min)}/${f(rss.median)}/${f(rss.max)} MiB growth ${f(node.memory.rssGrowthMiB)}; ` +
        `heap ${f(heap.min)}/${f(heap.median)}/${f(heap.max)} MiB growth ${f(node.memory.heapGrowthMiB)}; ` +
        `external ${f(external.median)} MiB growth ${f(node.memory.externalGrowthMiB)}  (min/median/max)`,
    )
  }
  console.log(result.failures.length === 0 ? 'PASS' : `FAIL\n  ${result.failures.join('\n  ')}`)
}
process.exit(result.failures.length === 0 ? 0 : 1)
