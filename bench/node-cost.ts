// What one node costs per record, node by node: N processes, node 0 publishing, and for each node the
// user and system CPU per record and the bytes it received and sent per record. With N = 3 there is no
// relaying, so a leaf's figure is the cost of receiving, checking and storing a record, which the
// designs can be compared on. Not part of `pnpm bench` (a diagnostic; BENCHMARKS.md renders its JSON).
//   node --import tsx bench/node-cost.ts [--nodes 3] [--designs push,tree] [--records 20000] [--rate 2000]
//     [--burst 64] [--repeat 1] [--profile DIR]
// --burst: records node 0 makes in one turn of its event loop (a TLS server makes one per handshake).
// --profile DIR: after the runs, one more per design in which every node writes a V8 CPU profile
// (1 ms samples) into DIR/<design>; each leaf's samples within the measured window are attributed to
// what they were doing (see PROFILE_CATEGORIES), in us per record. The CPU figures come from the runs
// without a profiler, which adds its own cost.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { percentile, progress, requireWholeNumbers, spread, writeResult } from './lib/bench-report.ts'
import { startMeshFleet } from './lib/mesh-fleet.ts'
import { propagationOf } from './lib/propagation.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    designs: { type: 'string', default: 'push,tree' },
    records: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '2000' },
    burst: { type: 'string', default: '64' },
    repeat: { type: 'string', default: '1' },
    profile: { type: 'string' },
    out: { type: 'string', default: 'node-cost' },
  },
})
const nodes = Number(values.nodes)
const records = Number(values.records)
const rate = Number(values.rate)
const repeat = Number(values.repeat)
const burst = Number(values.burst)
requireWholeNumbers('node-cost', { nodes, records, rate, burst, repeat })
const designs = values.designs.split(',')
for (const design of designs) {
  if (!['push', 'gossipsub', 'tree'].includes(design)) {
    console.error(`node-cost: unknown design ${design} (push, gossipsub, tree)`)
    process.exit(2)
  }
}

/**
 * What a sample was doing: the frame nearest the top of its stack that one of these matches decides
 * (so a native hash called from the record digest is hashing, a Map.set called from the store is the
 * store). Frames that match none (uint8arraylist, lru-cache, timers, promises) count for their caller.
 */
const PROFILE_CATEGORIES: Array<[string, (url: string, fn: string) => boolean]> = [
  [
    'hashing (record digests, message ids)',
    (u, f) => u.includes('/wire/src/record-digest.ts') || f === 'messageIdOf',
  ],
  ['signature check', (u) => u.includes('/mesh/src/record-auth.ts')],
  ['decode (protobuf, copies)', (u) => u.includes('/wire/src/') || u.includes('/protons-runtime/')],
  ['store merge', (u) => u.includes('/store/src/')],
  ['catch-up digest (sync/)', (u) => u.includes('/mesh/src/sync/')],
  [
    'Plumtree bookkeeping',
    (u) => u.includes('/broadcast/plumtree.ts') || u.includes('/broadcast/recent-ids.ts'),
  ],
  ['tree links (broadcast-service)', (u) => u.includes('/broadcast/broadcast-service.ts')],
  ['validation and ingest', (u) => u.includes('/record-ingest.ts') || u.includes('/gossip-validation.ts')],
  [
    'metrics',
    (u) =>
      u.includes('/prom-client/') ||
      u.includes('/prometheus-metrics/') ||
      u.includes('/mesh-metrics.ts') ||
      u.includes('/propagation-window.ts'),
  ],
  ['gossipsub', (u) => u.includes('/libp2p-gossipsub/')],
  ['decrypt/encrypt (noise)', (u) => u.includes('/libp2p-noise/') || u.includes('chacha20poly1305')],
  ['pnet (xsalsa20)', (u) => u.includes('/private-network.ts') || u.includes('/@noble/ciphers/')],
  [
    'yamux (framing, streams)',
    (u) =>
      u.includes('/libp2p-yamux/') ||
      u.includes('/utils/dist/src/abstract-stream') ||
      u.includes('/abstract-message-stream'),
  ],
  [
    'length-prefix (lpStream)',
    (u) =>
      u.includes('/it-length-prefixed/') ||
      u.includes('/length-prefixed-decoder') ||
      u.includes('/stream-utils'),
  ],
  ["bench harness (push's receive loop; arrival log)", (u) => u.includes('/bench/lib/')],
  ['socket I/O', (u) => u.includes('/@libp2p/tcp/')],
  [
    'libp2p other',
    (u) => u.includes('/@libp2p/') || u.includes('/libp2p/dist/') || u.includes('/@multiformats/'),
  ],
]
/** For the samples no frame of which the categories above name. */
const NODE_CATEGORIES: typeof PROFILE_CATEGORIES = [
  ['socket I/O', (u) => u === 'node:net' || u.startsWith('node:internal/stream')],
  ['promise and microtask machinery', (u) => u === 'node:internal/process/task_queues'],
  ['timers', (u) => u === 'node:internal/timers'],
  ['node runtime, other', (u) => u.startsWith('node:')],
]
const GC = 'GC'
const UNATTRIBUTED = 'native, unattributed ((program))'
const OTHER = 'other JS'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}

/** us of each category in [fromUs, toUs] of one profile (CLOCK_MONOTONIC, as process.hrtime). */
function attribute(file: string, fromUs: number, toUs: number): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[]
    startTime: number
    samples: number[]
    timeDeltas: number[]
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const categoryOf = new Map<number, string | undefined>()
  const categorize = (id: number): string | undefined => {
    if (categoryOf.has(id)) return categoryOf.get(id)
    const { functionName } = byId.get(id)!.callFrame
    let category: string | undefined
    if (functionName === '(idle)' || functionName === '(root)') category = undefined
    else if (functionName === '(garbage collector)') category = GC
    else if (functionName === '(program)') category = UNATTRIBUTED
    else {
      // Node's own frames last: crypto.verify called from record-auth.ts is the signature check.
      for (const rules of [PROFILE_CATEGORIES, NODE_CATEGORIES]) {
        for (
          let at: number | undefined = id;
          at !== undefined && category === undefined;
          at = parent.get(at)
        ) {
          const frame = byId.get(at)!.callFrame
          category = rules.find(([, test]) => test(frame.url, frame.functionName))?.[0]
        }
      }
      category ??= OTHER
    }
    categoryOf.set(id, category)
    return category
  }
  const totals = new Map<string, number>()
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the gap until the next one: what it stood for.
    at += profile.timeDeltas[i]!
    const next = profile.timeDeltas[i + 1] ?? 0
    if (at < fromUs || at > toUs) continue
    const category = categorize(profile.samples[i]!)
    if (category !== undefined) totals.set(category, (totals.get(category) ?? 0) + next)
  }
  return totals
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)
const realm = 'cost'

interface Measured {
  rows: Array<Record<string, unknown>>
  /** The measured window, in CLOCK_MONOTONIC us (the clock of V8's profiles). */
  window: { from: number; to: number }
  pids: Array<number | undefined>
}

/** One fleet of `design`: the CPU and bytes of each node over `records` records. */
async function measure(design: string, run: number, profileDir?: string): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-cost-'))
  if (profileDir !== undefined) process.env.TLSMESH_CPU_PROFILE_DIR = profileDir
  const fleet = await startMeshFleet({
    nodes,
    dir,
    realms: [realm],
    mode: design === 'push' ? 'push' : 'gossip',
    dissemination: design === 'tree' ? 'tree' : 'gossipsub',
  })
  delete process.env.TLSMESH_CPU_PROFILE_DIR
  const measured: Measured = { rows: [], window: { from: 0, to: 0 }, pids: fleet.nodes.map((c) => c.pid) }
  try {
    if (design !== 'push') await fleet.waitForMesh(Math.min(nodes - 1, 4), realm, 60_000)
    const publish = (count: number) =>
      fleet.publish(0, { realm, count, ratePerSecond: rate, valueBytes: 200, burst })
    await publish(2000)
    await new Promise((r) => setTimeout(r, 1000))
    const warmupIds = new Set((await fleet.arrivals(realm))[0]!.published.map(([id]) => id))
    const before = await fleet.status()
    measured.window.from = monotonicUs()
    await publish(records)
    await new Promise((r) => setTimeout(r, 1000))
    measured.window.to = monotonicUs()
    const after = await fleet.status()
    const delays = propagationOf(await fleet.arrivals(realm), (id) => !warmupIds.has(id)).map(
      (p) => p.delayMs,
    )
    const propagation = { p50Ms: percentile(delays, 0.5), p99Ms: percentile(delays, 0.99) }
    progress(`${design} propagation to every node: p50 ${propagation.p50Ms} ms, p99 ${propagation.p99Ms} ms`)
    for (let i = 0; i < nodes; i++) {
      const [a, b] = [after[i]!, before[i]!]
      const row = {
        run,
        design,
        node: i,
        userUsPerRecord: (a.cpu.user - b.cpu.user) / records,
        systemUsPerRecord: (a.cpu.system - b.cpu.system) / records,
        receivedBytesPerRecord: (a.bytes.received - b.bytes.received) / records,
        sentBytesPerRecord: (a.bytes.sent - b.bytes.sent) / records,
        propagationP50Ms: propagation.p50Ms,
        propagationP99Ms: propagation.p99Ms,
      }
      measured.rows.push(row)
      progress(
        `${design}${profileDir !== undefined ? ' (profiled)' : ''} node ${i}: user ${row.userUsPerRecord.toFixed(1)} us, ` +
          `system ${row.systemUsPerRecord.toFixed(1)} us, received ${row.receivedBytesPerRecord.toFixed(0)} B, ` +
          `sent ${row.sentBytesPerRecord.toFixed(0)} B per record`,
      )
    }
  } finally {
    await fleet.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  return measured
}

const rows: Array<Record<string, unknown>> = []
for (let run = 1; run <= repeat; run++) {
  for (const design of designs) rows.push(...(await measure(design, run)).rows)
}
/** A leaf's CPU per record (user + system, and each), over every leaf of every run. */
const leafSpread = (pick: (r: Record<string, unknown>) => number) =>
  Object.fromEntries(
    designs.map((design) => [
      design,
      spread(rows.filter((r) => r.design === design && (r.node as number) > 0).map(pick)),
    ]),
  )
const leafCpu = leafSpread((r) => (r.userUsPerRecord as number) + (r.systemUsPerRecord as number))
const leafUser = leafSpread((r) => r.userUsPerRecord as number)
const leafSystem = leafSpread((r) => r.systemUsPerRecord as number)
for (const [design, s] of Object.entries(leafCpu))
  progress(`${design} leaf CPU: ${s.median.toFixed(1)} us/record (${s.min.toFixed(1)}-${s.max.toFixed(1)})`)

/**
 * One more run per design with profiles of the leaves' main threads (a process's other threads, tsx's
 * loader among them, write profiles of their own). Samples are taken in wall time, so a thread that
 * waits for a core is sampled in what it was doing: each category's share of the samples is what it
 * costs of the user CPU of the runs without a profiler (helper threads', GC's and the compiler's
 * shares included); the kernel's share is their system CPU.
 */
const profile: Array<Record<string, unknown>> = []
if (values.profile !== undefined) {
  for (const design of designs) {
    const dir = join(values.profile, design)
    rmSync(dir, { recursive: true, force: true })
    const { window, pids } = await measure(design, 0, dir)
    const leaves = pids.slice(1)
    const files = readdirSync(dir).filter((file) => leaves.some((pid) => file.includes(`.${pid}.0.`)))
    const sampled = new Map<string, number>()
    for (const file of files) {
      for (const [category, us] of attribute(join(dir, file), window.from, window.to))
        sampled.set(category, (sampled.get(category) ?? 0) + us)
    }
    const total = [...sampled.values()].reduce((a, b) => a + b, 0)
    const user = leafUser[design]!.median
    const categories = [...sampled]
      .map(([category, us]) => ({ category, share: us / total, usPerRecord: (us / total) * user }))
      .sort((a, b) => b.usPerRecord - a.usPerRecord)
    categories.push({ category: 'kernel (system CPU)', share: 0, usPerRecord: leafSystem[design]!.median })
    profile.push({
      design,
      sampledUsPerRecord: total / records / leaves.length,
      categories,
      // To read the profiles again: the leaves' files and the window they were measured in.
      profiles: files.map((file) => join(dir, file)),
      windowUs: window,
    })
    progress(
      `${design} profile: ${categories.map((c) => `${c.category} ${c.usPerRecord.toFixed(2)}`).join(', ')}`,
    )
  }
}
progress(
  `wrote ${writeResult(values.out, { nodes, records, rate, repeat, leafCpu, leafUser, leafSystem, rows, ...(profile.length > 0 ? { profile } : {}) })}`,
)
process.exit(0)
