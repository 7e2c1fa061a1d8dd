// How long the server's thread is held at a time while a peer catches up from it, without the
// network or the host's other load: the messages of one catch-up of 10% of the records (queries and
// page requests, recorded once) are answered again as a node answers them, in turns of at most
// ANSWER_SLICE_MS, beside a ticker that runs on every turn of the event loop. A gap between two of
// its runs is a turn of the answers (or a GC pause): what a get arriving then waits for. Compared in
// the same run with the pages made in one turn each, as before 1685280. Signatures are random bytes:
// nothing here checks them. Records come in batches of 64, each with one proof, which a session sends
// in full once and by number after.
//   node --import tsx bench/answer-turns.ts [--sizes 100000,1000000] [--repeat 3]
import { PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import {
  ANSWER_SLICE_MS,
  answerQuery,
  answerQueryInSlices,
  answerRecords,
  answerRecordsInSlices,
  ListedRanges,
  RealmDigests,
  type ReconciliationSide,
  reconcile,
  syncKeyOf,
  TimeSlice,
} from '@tlsmesh/mesh/sync'
import { createReplicaStore, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { SyncKind, type SyncMessage, SyncProofTable } from '@tlsmesh/wire'
import { progress, type Spread, spread, writeResult } from './lib/bench-report.ts'
import { publishedRecords } from './lib/published-records.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    repeat: { type: 'string', default: '3' },
    out: { type: 'string', default: 'answer-turns' },
  },
})
const sizes = values.sizes.split(',').map(Number)
const repeat = Number(values.repeat)
const REALM = 'bench'
const BATCH = 64
const MISSING = 0.1
const now = Date.now()

const published = (count: number): SessionRecord[] =>
  publishedRecords({ count, batch: BATCH, realm: REALM, now })

async function sideOf(store: ReplicaStore, listed?: ListedRanges): Promise<ReconciliationSide> {
  const digests = new RealmDigests([REALM], { store, now: () => now })
  digests.start()
  return {
    realm: REALM,
    digest: await digests.of(REALM),
    ...(listed !== undefined ? { listed } : {}),
    receive: (message, requested) => {
      for (const r of message.records) {
        requested(syncKeyOf(r.id))
        store.merge({ ...r, realm: REALM, proof: message.proofs[r.proof]! }, now)
      }
    },
  }
}

type Design = 'pages in one turn' | 'sliced'

interface Replay {
  totalMs: number
  gapP99Ms: number
  gapMaxMs: number
  over02: number
  over05: number
  gcPauses: number
  gcMaxMs: number
}

const gcPauses: number[] = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push(entry.duration)
}).observe({ entryTypes: ['gc'] })

/** Answers `messages` as `design` does, beside a ticker; the gaps between the ticker's runs. */
async function replay(
  responder: ReconciliationSide,
  messages: SyncMessage[],
  design: Design,
): Promise<Replay> {
  gcPauses.length = 0
  const gaps: number[] = []
  let last = performance.now()
  let ticking = true
  const tick = (): void => {
    const at = performance.now()
    gaps.push(at - last)
    last = at
    if (ticking) setImmediate(tick)
  }
  setImmediate(tick)
  // A session between current nodes: each proof goes in full once, by number after.
  const side = { ...responder, listed: new ListedRanges(), paged: new SyncProofTable() }
  const started = performance.now()
  for (const message of messages) {
    const slice = new TimeSlice(ANSWER_SLICE_MS, undefined, 8)
    if (message.kind === SyncKind.QUERY) await answerQueryInSlices(side, message, slice)
    else if (design === 'sliced') await answerRecordsInSlices(side, message, slice)
    else answerRecords(side, message)
    // The next message comes from the peer: a turn later at the soonest.
    await new Promise((resolve) => setImmediate(resolve))
  }
  const totalMs = performance.now() - started
  ticking = false
  gaps.sort((a, b) => a - b)
  return {
    totalMs,
    gapP99Ms: gaps[Math.floor(0.99 * (gaps.length - 1))]!,
    gapMaxMs: gaps.at(-1)!,
    over02: gaps.filter((gap) => gap > 0.2).length,
    over05: gaps.filter((gap) => gap > 0.5).length,
    gcPauses: gcPauses.length,
    gcMaxMs: Math.max(0, ...gcPauses),
  }
}

const rows: Array<Record<string, unknown>> = []
for (const size of sizes) {
  const init = { realms: [REALM], maxEntriesPerRealm: size, maxBytesPerRealm: 2 ** 34 }
  const full = createReplicaStore(init)
  const behind = createReplicaStore(init)
  for (const [i, record] of published(size).entries()) {
    full.merge(record, now)
    if (i % Math.round(1 / MISSING) !== 0) behind.merge(record, now)
  }
  // The catch-up's messages, recorded once as the initiator sends them.
  const messages: SyncMessage[] = []
  const responder = await sideOf(full, new ListedRanges())
  await reconcile(await sideOf(behind), async (message) => {
    messages.push(message)
    return message.kind === SyncKind.QUERY
      ? answerQuery(responder, message)
      : answerRecords(responder, message)
  })
  const queries = messages.filter((m) => m.kind === SyncKind.QUERY).length
  progress(`${size} records: a catch-up of ${messages.length - queries} page requests and ${queries} queries`)
  const runs: Record<Design, Replay[]> = { 'pages in one turn': [], sliced: [] }
  for (let run = 0; run < repeat; run++) {
    for (const design of ['pages in one turn', 'sliced'] as const) {
      const result = await replay(responder, messages, design)
      runs[design].push(result)
      progress(
        `${size} run ${run + 1}/${repeat} ${design}: ${result.totalMs.toFixed(0)} ms; gaps p99 ${result.gapP99Ms.toFixed(3)} max ${result.gapMaxMs.toFixed(2)} ms, over 0.2 ms ${result.over02}, over 0.5 ms ${result.over05}; GC ${result.gcPauses} pauses, longest ${result.gcMaxMs.toFixed(2)} ms`,
      )
    }
  }
  for (const design of ['pages in one turn', 'sliced'] as const) {
    const of = (field: keyof Replay): Spread => spread(runs[design].map((r) => r[field]))
    rows.push({
      size,
      design,
      pages: messages.length - queries,
      queries,
      totalMs: of('totalMs'),
      gapP99Ms: of('gapP99Ms'),
      gapMaxMs: of('gapMaxMs'),
      over02: of('over02'),
      over05: of('over05'),
      gcPauses: of('gcPauses'),
      gcMaxMs: of('gcMaxMs'),
    })
  }
}
const result = { sliceMs: ANSWER_SLICE_MS, missingFraction: MISSING, repeat, rows }
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
