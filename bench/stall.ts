// Stalls (issue 15): does the mesh stall the process it lives in? A node holding N records serves
// memcached gets from its replica at a steady rate while, phase by phase, it idles, a peer that
// missed 10% of the records catches up from it, a peer reconciles with it back to back (as fast as
// each reconciliation completes), and another node publishes into its realm at 2,000 records/s.
// Per phase: the node's event-loop delay (monitorEventLoopDelay, 1 ms resolution, reset when the phase
// starts) p50/p99/max and its CPU, and the gets' latency p50/p99/max seen by a load generator in its
// own process. Targets: loop delay p99 <= 5 ms and max <= 20 ms in every phase; get p99 during the
// catch-up within 1.5x of the idle phase's. With --resume-rate, M is a Node TLS server too, as one
// embedding the mesh is: TLS 1.2 clients in a process of their own resume sessions from its replica
// at that rate, and each phase reports their handshakes' p50/p99/max; --get-rate 0 leaves the gets
// out, for a server that only resumes sessions (what `pnpm bench` runs as stall-tls).
//   node --import tsx bench/stall.ts [--sizes 100000,1000000] [--seconds 10] [--repeat 3]
//     [--get-rate 2000] [--connections 4] [--resume-rate 0] [--replication-rate 2000]
//     [--fill-rate 20000] [--isolate] [--design embedded|split|threaded] [--mesh-nice 0]
//
// --design split makes M a prototype of the mesh on a thread of its own (bench/lib/split-node-process.ts):
// the mesh node on a worker thread feeds each record it stores to a second replica on the main thread,
// which serves the gets and the TLS clients, and what those write goes back to the mesh, which publishes
// it. --mesh-nice N runs that worker thread at nice N, below the server's thread beside it.
// --design threaded is the product's way (createMeshNode's transportThread): the mesh's transport
// (libp2p, the tree, catch-up's transport, signatures) on a worker thread, the one replica on the
// main thread, which answers catch-up's queries, fills its pages and stores what arrives.
//
// --isolate, once the fill is done, pins M's main thread and the load generator (the server that asks
// M, on M's host) to core 0, and every other thread, M's own (GC, libuv) and those of C and P, to
// core 1: the peers M serves run elsewhere, as they do in a fleet, and M's loop delay is its own work
// and its GC pauses, not time it waited for a core beside them. The TLS clients go to core 1 as
// well: a server's clients are elsewhere. (This process stays unpinned: the next run's nodes would
// inherit its core.)
//
// Each run starts fresh node processes: the measured node M (with a memcached endpoint on its
// replica), C (the peer that catches up, then reconciles back to back) and P (the publisher), each
// with a heap sized for the records. P joins M while it is empty (meeting costs nothing), and M writes
// 90% of the records at --fill-rate, which reach P by gossip (ids are the load generator's keys, so
// every get hits); C joins then and reconciles them from M in one go; C is cut off (an allowlist on
// each side: nobody dials), and M writes the last 10%, which reach P. Then the load generator starts,
// and the phases run:
//   idle         M serves gets; P, in sync, stays connected.
//   catch-up     C is let back in and dials M; from the dial until C holds every record.
//   queries      C, in sync now and started with a 1 ms sync interval (the mesh's public option),
//                starts a new reconciliation with M (its only peer) as soon as the last completes.
//   replication  C is cut off again; P publishes at --replication-rate for --seconds.
// The mesh has no call that starts a reconciliation, hence the sync interval.
import { type ChildProcess, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateMeshKey } from '@tlsmesh/mesh'
import { forkScript, request, stopChild } from '../scripts/lib/child-processes.ts'
import { writeSelfSignedCert } from '../scripts/lib/self-signed-cert.ts'
import { progress, requireWholeNumbers, spread, writeResult } from './lib/bench-report.ts'
import type { LoopDelayReport } from './lib/loop-delay.ts'
import type { LoadWindow } from './lib/memcache-load.ts'
import { type NodeReport, startMeshNode } from './lib/mesh-fleet.ts'
import type { MeshNodeConfig } from './lib/mesh-node-process.ts'
import type { ResumeWindow } from './lib/tls-resume-load.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    seconds: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    'get-rate': { type: 'string', default: '2000' },
    connections: { type: 'string', default: '4' },
    'resume-rate': { type: 'string', default: '0' },
    'replication-rate': { type: 'string', default: '2000' },
    'value-bytes': { type: 'string', default: '200' },
    'fill-rate': { type: 'string', default: '20000' },
    isolate: { type: 'boolean', default: false },
    design: { type: 'string', default: 'embedded' },
    'mesh-nice': { type: 'string', default: '0' },
    out: { type: 'string', default: 'stall' },
  },
})
const sizes = values.sizes.split(',').map(Number)
const seconds = Number(values.seconds)
const repeat = Number(values.repeat)
const getRate = Number(values['get-rate'])
const connections = Number(values.connections)
const resumeRate = Number(values['resume-rate'])
const replicationRate = Number(values['replication-rate'])
const valueBytes = Number(values['value-bytes'])
const fillRate = Number(values['fill-rate'])
requireWholeNumbers('stall', {
  'fill-rate': fillRate,
  seconds,
  repeat,
  connections,
  'replication-rate': replicationRate,
})
requireWholeNumbers('stall', { 'get-rate': getRate, 'resume-rate': resumeRate }, 0)
if (getRate === 0 && resumeRate === 0) {
  console.error('stall: --get-rate and --resume-rate are both 0: nothing would ask M for anything')
  process.exit(2)
}
for (const size of sizes) requireWholeNumbers('stall', { sizes: size }, 1000)
if (values.isolate && availableParallelism() < 2) {
  throw new Error(
    `stall: --isolate needs 2 cores (one for M, one for the rest); this host has ${availableParallelism()}`,
  )
}

if (!['embedded', 'split', 'threaded'].includes(values.design)) {
  console.error(`stall: --design: expected embedded, split or threaded, got ${values.design}`)
  process.exit(2)
}
const split = values.design === 'split'
const meshNice = Number(values['mesh-nice'])
if (!Number.isInteger(meshNice) || meshNice < 0 || meshNice > 19 || (meshNice > 0 && !split)) {
  console.error(`stall: --mesh-nice: expected 0-19, with --design split, got ${values['mesh-nice']}`)
  process.exit(2)
}

const TARGETS = { loopP99Ms: 5, loopMaxMs: 20, catchUpGetP99OverIdle: 1.5 }
const MISSING = 0.1
const realm = 'stall'
/** Long enough that no record of the fill expires during a run. */
const FILL_TTL_MS = 3_600_000
const PHASES = ['idle', 'catch-up', 'queries', 'replication'] as const
type Phase = (typeof PHASES)[number]
const loadScript = fileURLToPath(new URL('./lib/memcache-load.ts', import.meta.url))
const resumeScript = fileURLToPath(new URL('./lib/tls-resume-load.ts', import.meta.url))
/** Sessions the TLS clients make first and then offer in turn. */
const RESUME_SESSIONS = 64

/** Heap for a node holding `size` records (~1 KB each with their digest entries), with room to spare. */
const heapMbFor = (size: number): number => Math.max(1024, Math.ceil((size * 3000) / 2 ** 20) + 512)

interface Measured {
  loop: LoopDelayReport
  /** Absent with --get-rate 0. */
  gets: LoadWindow | undefined
  /** Absent with --resume-rate 0. */
  resumes: ResumeWindow | undefined
  /** What the phase did besides: catch-up ms, reconciliations/s, records/s that reached M. */
  extra: Record<string, number>
}

async function identity(): Promise<{ hex: string; id: string }> {
  const key = await generateKeyPair('Ed25519')
  return {
    hex: Buffer.from(privateKeyToProtobuf(key)).toString('hex'),
    id: peerIdFromPrivateKey(key).toString(),
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const statusOf = (child: ChildProcess): Promise<NodeReport> =>
  request<NodeReport>(child, 'status', {}, { timeoutMs: 30_000 })
const entriesOf = async (child: ChildProcess): Promise<number> =>
  (await statusOf(child)).mesh.realms[realm]?.entries ?? 0

/** Polls `check` every 20 ms until it holds; throws after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await check()) return
    await sleep(20)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

async function publish(
  child: ChildProcess,
  command: { count: number; ratePerSecond: number; keyFrom?: number; ttlMs?: number },
): Promise<number> {
  const reply = await request<{ elapsedMs: number }>(
    child,
    'publish',
    { realm, valueBytes, burst: Math.min(1000, Math.ceil(command.ratePerSecond / 200)), ...command },
    // A busy machine writes slower than the rate asks: ten times the time, and a minute.
    { replyType: 'published', timeoutMs: 60_000 + (10_000 * command.count) / command.ratePerSecond },
  )
  return reply.elapsedMs
}

async function allow(child: ChildProcess, peers: string[] | null): Promise<void> {
  await request(child, 'allow', { peers })
}

/**
 * The TLS clients stand for machines of their own, and a handshake needs them at each step: at the
 * default priority, sharing the cores with C (which pulls as fast as it can), their own stalls count
 * in the handshakes they time. A higher priority lets them run as soon as they are ready, so that what
 * they measure is M; they still report their own loop delay. Needs root (CAP_SYS_NICE): without it
 * they run as they are, and the result says so (resumeClientPriority).
 */
function favour(pid: number): void {
  try {
    setPriority(pid, CLIENT_PRIORITY)
    clientPriority = CLIENT_PRIORITY
  } catch {
    progress(
      "could not raise the TLS clients' priority (needs root): their own waits count in their handshakes",
    )
  }
}
const CLIENT_PRIORITY = -10
let clientPriority = 0

/** `pid`'s main thread (or every thread of it) onto `cpu`, a taskset cpu list. */
function pin(pid: number, cpu: string, threads: 'main' | 'all'): void {
  const args = threads === 'all' ? ['-a', '-cp', cpu, String(pid)] : ['-cp', cpu, String(pid)]
  execFileSync('taskset', args, { stdio: 'ignore' })
}

async function dial(child: ChildProcess, addr: string): Promise<void> {
  const reply = await request<{ error?: string }>(child, 'dial', { addr }, { timeoutMs: 30_000 })
  if (reply.error !== undefined) throw new Error(`dial ${addr}: ${reply.error}`)
}

interface Run {
  phases: Record<Phase, Measured>
  /** M's heap used and RSS once it held every record, before the phases. */
  heapUsedBytes: number
  rssBytes: number
  /** From C's spawn, empty, until it held the 90% M held then. */
  emptyCatchUpMs: number
}

/** One run at `size` records: fresh nodes, the four phases. */
async function runOnce(
  size: number,
  files: { meshKeyFile: string; certFile: string; keyFile: string },
  label: string,
): Promise<Run> {
  const { meshKeyFile, certFile, keyFile } = files
  const heapArgs = { execArgv: [`--max-old-space-size=${heapMbFor(size)}`] }
  // Room for the records P publishes, so that nothing is evicted.
  const store = { maxEntriesPerRealm: size + replicationRate * seconds + 10_000, maxBytesPerRealm: 2 ** 32 }
  const base: MeshNodeConfig = { meshKeyFile, seeds: [], realms: [realm], ...store }
  const children: ChildProcess[] = []
  try {
    const tls = resumeRate > 0 ? { tls: { realm, certFile, keyFile } } : {}
    const m = await startMeshNode(
      {
        ...base,
        memcache: { port: 0, realm },
        ...tls,
        split,
        meshNice,
        transportThread: values.design === 'threaded',
      },
      heapArgs,
    )
    children.push(m.child)
    const mAddr = m.addrs[0]!
    const mId = mAddr.split('/p2p/')[1]!
    const [c, p] = [await identity(), await identity()]
    const held = Math.round(size * (1 - MISSING))

    // P joins while M is empty, so that meeting costs nothing, and takes the records by gossip. With
    // P there, M is not alone when C comes: C's reconciliation is the only one (M starts one of its
    // own at once only with the first peer it meets), and C's back-to-back ones do not slow the fill.
    const P = (await startMeshNode({ ...base, privateKeyHex: p.hex, allowPeers: [mId] }, heapArgs)).child
    children.push(P)
    await dial(P, mAddr)
    await waitFor('M to have P as a mesh neighbour', 30_000, async () => {
      const status = await statusOf(m.child)
      return (status.mesh.realms[realm]?.meshPeers ?? 0) >= 1
    })
    /** M writes `count` records; resolves once P holds them, with what each step took. */
    const fill = async (count: number, keyFrom: number): Promise<string> => {
      const wrote = await publish(m.child, { count, ratePerSecond: fillRate, keyFrom, ttlMs: FILL_TTL_MS })
      const started = Date.now()
      // What gossip lost, P's periodic reconciliation (30 s) brings.
      await waitFor(
        `P to hold ${keyFrom + count} records`,
        90_000,
        async () => (await entriesOf(P)) >= keyFrom + count,
      )
      return `in ${Math.round(wrote)} ms, P held them ${Date.now() - started} ms after`
    }
    progress(`${label}: M wrote ${held} records ${await fill(held, 0)}`)
    const joined = Date.now()
    const C = (
      await startMeshNode({ ...base, privateKeyHex: c.hex, allowPeers: [mId], syncIntervalMs: 1 }, heapArgs)
    ).child
    children.push(C)
    const cStartedMs = Date.now() - joined
    await dial(C, mAddr)
    await waitFor(
      'C to reconcile the records from M',
      90_000 + held,
      async () => (await entriesOf(C)) >= held,
    )
    const emptyCatchUpMs = Date.now() - joined
    progress(
      `${label}: C's process started in ${cStartedMs} ms; it held them ${emptyCatchUpMs} ms after it spawned`,
    )
    await Promise.all([allow(C, []), allow(m.child, [p.id])])
    progress(`${label}: M wrote the last ${size - held} with C cut off ${await fill(size - held, held)}`)
    const { memory } = await statusOf(m.child)
    progress(
      `${label}: M's heap ${Math.round(memory.heapUsed / 2 ** 20)} MB used, RSS ${Math.round(memory.rss / 2 ** 20)} MB`,
    )
    const load =
      getRate > 0
        ? await forkScript(
            loadScript,
            [JSON.stringify({ port: m.memcachePort, connections, keys: size, ratePerSecond: getRate })],
            // As in bench/memcache.ts: with V8's default young generation, the generator's own GC pauses
            // were most of the p99 it measured.
            { execArgv: ['--max-semi-space-size=32'] },
          )
        : undefined
    if (load !== undefined) children.push(load.child)
    const resume =
      resumeRate > 0
        ? await forkScript(resumeScript, [
            JSON.stringify({ port: m.tlsPort, ratePerSecond: resumeRate, sessions: RESUME_SESSIONS }),
          ])
        : undefined
    if (resume !== undefined) {
      children.push(resume.child)
      favour(resume.child.pid!)
    }
    if (values.isolate) {
      for (const child of [m.child, P, C]) pin(child.pid!, '1', 'all')
      if (resume !== undefined) pin(resume.child.pid!, '1', 'all')
      pin(m.child.pid!, '0', 'main')
      if (load !== undefined) pin(load.child.pid!, '0', 'all')
    }
    await sleep(2000)

    const fleet: Fleet = {
      m: m.child,
      P,
      C,
      load: load?.child,
      resume: resume?.child,
      mAddr,
      mId,
      pId: p.id,
      cId: c.id,
    }
    const phases = await runPhases(fleet, label)
    return { phases, heapUsedBytes: memory.heapUsed, rssBytes: memory.rss, emptyCatchUpMs }
  } finally {
    await Promise.all(children.map((child) => stopChild(child, 2000)))
  }
}

/** The processes of one run, once M holds the records and the load generator runs. */
interface Fleet {
  m: ChildProcess
  P: ChildProcess
  C: ChildProcess
  load: ChildProcess | undefined
  resume: ChildProcess | undefined
  mAddr: string
  mId: string
  pId: string
  cId: string
}

/** M's loop delay, the gets' and resumptions' latency over what `during` does, with what it reports. */
async function measure(fleet: Fleet, during: () => Promise<Record<string, number>>): Promise<Measured> {
  const { load, resume, m } = fleet
  await Promise.all([
    load !== undefined ? request(load, 'window') : undefined,
    resume !== undefined ? request(resume, 'window') : undefined,
    request(m, 'loop-delay', { action: 'start' }),
  ])
  const extra = await during()
  const [gets, resumes, loop] = await Promise.all([
    load !== undefined ? request<LoadWindow & { type: string }>(load, 'window') : undefined,
    resume !== undefined ? request<ResumeWindow & { type: string }>(resume, 'window') : undefined,
    request<LoopDelayReport & { type: string }>(m, 'loop-delay', { action: 'report' }),
  ])
  const { type: _l, ...loopWindow } = loop
  return { loop: loopWindow, gets: withoutType(gets), resumes: withoutType(resumes), extra }
}

function withoutType<T extends { type: string }>(reply: T | undefined): Omit<T, 'type'> | undefined {
  if (reply === undefined) return undefined
  const { type: _, ...rest } = reply
  return rest
}

async function runPhases(fleet: Fleet, label: string): Promise<Record<Phase, Measured>> {
  const phases = {} as Record<Phase, Measured>
  phases.idle = await measure(fleet, async () => {
    await sleep(seconds * 1000)
    return {}
  })
  report(label, 'idle', phases.idle)
  phases['catch-up'] = await catchUpPhase(fleet)
  report(label, 'catch-up', phases['catch-up'])
  phases.queries = await queriesPhase(fleet)
  report(label, 'queries', phases.queries)
  phases.replication = await replicationPhase(fleet)
  report(label, 'replication', phases.replication)
  return phases
}

/** C is let back in and catches up the 10% it missed from M. */
async function catchUpPhase(fleet: Fleet): Promise<Measured> {
  const { m, C, mAddr, mId, pId, cId } = fleet
  await Promise.all([allow(m, [pId, cId]), allow(C, [mId])])
  const pulledBefore = (await statusOf(C)).mesh.sync.recordsPulled
  const mStartedBefore = (await statusOf(m)).mesh.sync.started
  // M holds the TLS clients' sessions besides the records.
  const held = await entriesOf(m)
  const measured = await measure(fleet, async () => {
    const started = performance.now()
    await dial(C, mAddr)
    await waitFor('C to catch up', 300_000, async () => (await entriesOf(C)) >= held)
    return { catchUpMs: performance.now() - started }
  })
  measured.extra.pulled = (await statusOf(C)).mesh.sync.recordsPulled - pulledBefore
  // Reconciliations M started itself meanwhile: one with C would repeat C's own, beside it.
  measured.extra.mStarted = (await statusOf(m)).mesh.sync.started - mStartedBefore
  return measured
}

/** C, in sync, reconciles with M back to back (its sync interval is 1 ms). */
async function queriesPhase(fleet: Fleet): Promise<Measured> {
  const syncsBefore = (await statusOf(fleet.C)).mesh.sync
  const measured = await measure(fleet, async () => {
    await sleep(seconds * 1000)
    return {}
  })
  const syncsAfter = (await statusOf(fleet.C)).mesh.sync
  measured.extra = {
    reconciliationsPerSecond:
      ((syncsAfter.succeeded - syncsBefore.succeeded) * 1000) / measured.loop.windowMs,
    failed: syncsAfter.failed - syncsBefore.failed,
  }
  return measured
}

/** P publishes replicationRate records/s, which reach M. */
async function replicationPhase(fleet: Fleet): Promise<Measured> {
  const { m, P, C, pId } = fleet
  await Promise.all([allow(C, []), allow(m, [pId])])
  const entriesBefore = await entriesOf(m)
  const published = replicationRate * seconds
  const measured = await measure(fleet, async () => {
    await publish(P, { count: published, ratePerSecond: replicationRate })
    return {}
  })
  await sleep(1000)
  const reached = (await entriesOf(m)) - entriesBefore
  measured.extra = {
    reachedPerSecond: (reached * 1000) / measured.loop.windowMs,
    reachedFraction: reached / published,
  }
  return measured
}

function report(label: string, phase: Phase, m: Measured): void {
  const extra = Object.entries(m.extra)
    .map(([k, v]) => `, ${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join('')
  progress(
    `${label} ${phase}: loop delay p50 ${m.loop.p50Ms.toFixed(2)} p99 ${m.loop.p99Ms.toFixed(2)} max ${m.loop.maxMs.toFixed(1)} ms, ` +
      `cpu ${(m.loop.cpu * 100).toFixed(0)}%, GC max ${m.loop.gcMaxMs.toFixed(1)} ms (scavenge ${m.loop.gcMaxMinorMs.toFixed(1)}, mark-compact ${m.loop.gcMaxMajorMs.toFixed(1)})` +
      `${answered(m.gets)}${resumed(m.resumes)}${extra}`,
  )
}

function answered(w: LoadWindow | undefined): string {
  if (w === undefined) return ''
  return `; gets ${w.gets} (${w.hits} hits) p50 ${w.p50Ms.toFixed(3)} p99 ${w.p99Ms.toFixed(3)} max ${w.maxMs.toFixed(1)} ms`
}

function resumed(w: ResumeWindow | undefined): string {
  if (w === undefined) return ''
  return (
    `; resumptions ${w.resumed} of ${w.handshakes} (${w.errors} failed) p50 ${w.p50Ms.toFixed(2)} ` +
    `p99 ${w.p99Ms.toFixed(2)} max ${w.maxMs.toFixed(1)} ms (the clients' own loop delay p99 ` +
    `${w.clientLoopP99Ms.toFixed(1)} max ${w.clientLoopMaxMs.toFixed(1)} ms)`
  )
}

const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-stall-'))
const meshKeyFile = join(dir, 'mesh.key')
writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
const files = { meshKeyFile, ...writeSelfSignedCert(dir) }
const rows: Array<Record<string, unknown>> = []
const memory: Array<Record<string, unknown>> = []
try {
  for (const size of sizes) {
    const runs: Run[] = []
    for (let r = 0; r < repeat; r++) {
      runs.push(await runOnce(size, files, `${size} records, run ${r + 1}/${repeat}`))
    }
    memory.push({
      size,
      heapUsedBytes: spread(runs.map((run) => run.heapUsedBytes)),
      emptyCatchUpMs: spread(runs.map((run) => run.emptyCatchUpMs)),
      rssBytes: spread(runs.map((run) => run.rssBytes)),
    })
    for (const phase of PHASES) {
      const of = (f: (m: Measured, run: Record<Phase, Measured>) => number) =>
        spread(runs.map((run) => f(run.phases[phase], run.phases)))
      const extras = Object.keys(runs[0]!.phases[phase].extra)
      rows.push({
        size,
        phase,
        loopP50Ms: of((m) => m.loop.p50Ms),
        loopP99Ms: of((m) => m.loop.p99Ms),
        loopMaxMs: of((m) => m.loop.maxMs),
        cpu: of((m) => m.loop.cpu),
        gcMs: of((m) => m.loop.gcMs),
        gcMaxMs: of((m) => m.loop.gcMaxMs),
        gcMaxMinorMs: of((m) => m.loop.gcMaxMinorMs),
        gcMaxMajorMs: of((m) => m.loop.gcMaxMajorMs),
        windowMs: of((m) => m.loop.windowMs),
        ...(getRate > 0
          ? {
              gets: of((m) => m.gets!.gets),
              getHitRate: of((m) => m.gets!.hits / m.gets!.gets),
              getP50Ms: of((m) => m.gets!.p50Ms),
              getP99Ms: of((m) => m.gets!.p99Ms),
              getMaxMs: of((m) => m.gets!.maxMs),
              getP99OverIdle: of((m, run) => m.gets!.p99Ms / run.idle.gets!.p99Ms),
            }
          : {}),
        ...(resumeRate > 0
          ? {
              resumptions: of((m) => m.resumes!.handshakes),
              resumedRate: of((m) => m.resumes!.resumed / m.resumes!.handshakes),
              resumeP50Ms: of((m) => m.resumes!.p50Ms),
              resumeP99Ms: of((m) => m.resumes!.p99Ms),
              resumeMaxMs: of((m) => m.resumes!.maxMs),
              resumeP99OverIdle: of((m, run) => m.resumes!.p99Ms / run.idle.resumes!.p99Ms),
              clientLoopP99Ms: of((m) => m.resumes!.clientLoopP99Ms),
              clientLoopMaxMs: of((m) => m.resumes!.clientLoopMaxMs),
            }
          : {}),
        ...Object.fromEntries(extras.map((k) => [k, of((m) => m.extra[k] ?? Number.NaN)])),
      })
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
const result = {
  sizes,
  seconds,
  repeat,
  getRatePerSecond: getRate,
  connections,
  resumeRatePerSecond: resumeRate,
  ...(resumeRate > 0 ? { resumeClientPriority: clientPriority } : {}),
  replicationRatePerSecond: replicationRate,
  valueBytes,
  isolated: values.isolate,
  design: values.design,
  meshNice,
  missingFraction: MISSING,
  heapMb: Object.fromEntries(sizes.map((size) => [size, heapMbFor(size)])),
  targets: TARGETS,
  memory,
  rows,
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
process.exit(0)
