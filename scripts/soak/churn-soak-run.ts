// The churn soak (issue 5): a small mesh of long-lived node processes publishing to each other while a
// churner process connects to them and disconnects, thousands of times. It checks that the long-lived
// nodes stay up, receive every record the others published, and that their RSS and heap stay flat
// after warm-up. Run by scripts/soak/churn-soak.ts (minutes) and test/e2e/churn-soak.test.ts (short).
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMeshKey } from '@tlsmesh/mesh'
import { forkScript, request, stopChild } from '../lib/child-processes.ts'
import type { ChurnerConfig, ChurnerReport } from './churner.ts'
import { type MemoryGrowth, type MemorySample, memoryGrowth } from './memory-samples.ts'
import type { SoakNodeConfig } from './soak-node.ts'

export interface ChurnSoakOptions {
  /** long-lived mesh nodes, one process each */
  nodes: number
  /** connect/disconnect cycles; the churn stops at this count or after `seconds` */
  cycles: number
  seconds: number
  /** cycles started per second at most (0: back to back), to spread a short run over its warm-up */
  cycleRate: number
  /** records per second published by each long-lived node */
  publishRate: number
  valueBytes: number
  /** bytes echoed per cycle, and every `bigEvery`-th cycle `bigBytes` (0: never) */
  payloadBytes: number
  bigBytes: number
  bigEvery: number
  sampleMs: number
  /**
   * Memory growth is measured from this long after the churn started to its end. Publishing fills
   * time-bounded caches for a while (gossipsub remembers message ids for 2 minutes): the default
   * warm-up outlasts them, so that what still grows after it grows with the churn.
   */
  warmupSeconds: number
  /**
   * Records expire and are pruned, so that the replica reaches a steady size during warm-up; a TTL
   * longer than the anti-entropy interval lets sync repair what gossip missed, as in production.
   */
  recordTtlMs: number
  pruneIntervalMs: number
  /** how long to wait for missing records after publishing stopped (one sync round repairs) */
  settleSeconds: number
  maxRssGrowthMiB: number
  maxHeapGrowthMiB: number
  /** Buffers, ArrayBuffers and WebAssembly memories (where pnet's xsalsa20 memory shows) */
  maxExternalGrowthMiB: number
  /** cycles that may fail (a dial or echo error) before the soak fails */
  maxFailedCycles: number
  /** `pnet`: the long-lived nodes run the stock `@libp2p/pnet`, to show what the soak guards against */
  protector: 'ours' | 'pnet'
  log?: (line: string) => void
}

export const DEFAULT_CHURN_SOAK_OPTIONS: ChurnSoakOptions = {
  nodes: 3,
  cycles: 20_000,
  seconds: 300,
  cycleRate: 0,
  publishRate: 50,
  valueBytes: 200,
  payloadBytes: 1024,
  bigBytes: 1024 * 1024,
  bigEvery: 100,
  sampleMs: 2000,
  warmupSeconds: 150,
  recordTtlMs: 120_000,
  pruneIntervalMs: 5000,
  // long enough for one anti-entropy round (every 30 s) to repair what gossip missed
  settleSeconds: 40,
  maxRssGrowthMiB: 40,
  maxHeapGrowthMiB: 8,
  maxExternalGrowthMiB: 16,
  maxFailedCycles: 0,
  protector: 'ours',
}

export interface SoakNodeResult {
  index: number
  /** null while up; otherwise how it ended ("code 1", "signal SIGKILL") */
  exited: string | null
  published: number
  /** records published by the others that never arrived; null if the node was not there to ask */
  missing: number | null
  /** records that only anti-entropy delivered: dissemination lost them (not a failure by itself) */
  bySync: number | null
  missingRanges: NodeCheck['missingRanges']
  samples: MemorySample[]
  memory: MemoryGrowth
}

export interface ChurnSoakResult {
  protector: ChurnSoakOptions['protector']
  options: Omit<ChurnSoakOptions, 'log'>
  durationMs: number
  churn: ChurnerReport & { cyclesPerSecond: number }
  nodes: SoakNodeResult[]
  /** empty when the soak passed */
  failures: string[]
}

const here = fileURLToPath(new URL('.', import.meta.url))
const REALM = 'soak'
const READY_TIMEOUT_MS = 30_000

interface LiveNode {
  index: number
  child: ChildProcess
  multiaddrs: string[]
  samples: MemorySample[]
  connections: number
  exited: string | null
}

export async function runChurnSoak(overrides: Partial<ChurnSoakOptions> = {}): Promise<ChurnSoakResult> {
  const options: ChurnSoakOptions = { ...DEFAULT_CHURN_SOAK_OPTIONS, ...overrides }
  const log = options.log ?? (() => {})
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-soak-'))
  const meshKeyFile = join(dir, 'mesh.key')
  writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
  const startedAt = Date.now()
  const nodes: LiveNode[] = []
  let churner: ChildProcess | undefined
  try {
    const maxRecordsPerNode = Math.ceil(options.publishRate * (options.seconds + 60)) + 1000
    for (let index = 0; index < options.nodes; index++) {
      nodes.push(
        await startNode(
          index,
          nodes[0]?.multiaddrs ?? [],
          meshKeyFile,
          startedAt,
          maxRecordsPerNode,
          options,
        ),
      )
    }
    await waitFor('the mesh to form', () => nodes.every((n) => n.connections >= options.nodes - 1), 20_000)
    log(`mesh of ${options.nodes} formed (${options.protector})`)

    for (const node of nodes) {
      await request(node.child, 'publish', {
        ratePerSecond: options.publishRate,
        valueBytes: options.valueBytes,
      })
    }
    const churnerConfig: ChurnerConfig = {
      meshKeyFile,
      targets: nodes.map((n) => n.multiaddrs[0]!),
      cycles: options.cycles,
      seconds: options.seconds,
      payloadBytes: options.payloadBytes,
      bigBytes: options.bigBytes,
      bigEvery: options.bigEvery,
      cycleRate: options.cycleRate,
      progressEvery: Math.max(50, Math.round(options.cycles / 20)),
    }
    const churnStartedMs = Date.now() - startedAt
    const started = await forkScript(join(here, 'churner.ts'), [JSON.stringify(churnerConfig)])
    churner = started.child
    const churnerChild = churner
    let churning = true
    for (const node of nodes) {
      node.child.once('exit', () => {
        if (!churning) return
        log(`node ${node.index} exited (${node.exited}): ending the churn`)
        if (churnerChild.connected) churnerChild.send({ type: 'stop' })
      })
    }
    const report = await churnerDone(churner, options.seconds * 1000 + 60_000, log)
    churning = false
    const churnEndedMs = Date.now() - startedAt
    log(`churn done: ${report.cycles} cycles, ${report.failures} failed, in ${report.elapsedMs} ms`)

    const published: number[] = []
    for (const node of nodes) {
      published[node.index] =
        node.exited === null
          ? (await request<{ published: number }>(node.child, 'stop-publishing')).published
          : Math.ceil(options.publishRate * ((churnEndedMs - churnStartedMs) / 1000))
    }
    const checks = await settle(nodes, published, options.settleSeconds * 1000)

    const failures: string[] = []
    const results: SoakNodeResult[] = nodes.map((node) => {
      const window = node.samples.filter((s) => s.atMs <= churnEndedMs)
      const memory = memoryGrowth(window, churnStartedMs + options.warmupSeconds * 1000)
      const check = checks.get(node.index)
      const nodeMissing = check?.missing ?? null
      if (node.exited !== null) failures.push(`node ${node.index} exited (${node.exited})`)
      if (nodeMissing !== null && nodeMissing > 0) {
        // when they were published tells what was going on then (seq / rate = seconds into publishing)
        const where = Object.entries(check?.missingRanges ?? {})
          .map(([origin, ranges]) => {
            const runs = ranges.map(
              ([from, to]) => `${from}-${to} (~${Math.round(from / options.publishRate)} s)`,
            )
            return `from node ${origin}: ${runs.join(', ')}`
          })
          .join('; ')
        failures.push(`node ${node.index} missed ${nodeMissing} records, ${where}`)
      }
      if (memory.rss.count < 2) failures.push(`node ${node.index}: too few samples after warm-up`)
      if (memory.rssGrowthMiB > options.maxRssGrowthMiB) {
        failures.push(
          `node ${node.index}: RSS grew ${memory.rssGrowthMiB} MiB (limit ${options.maxRssGrowthMiB})`,
        )
      }
      if (memory.heapGrowthMiB > options.maxHeapGrowthMiB) {
        failures.push(
          `node ${node.index}: heap grew ${memory.heapGrowthMiB} MiB (limit ${options.maxHeapGrowthMiB})`,
        )
      }
      return {
        index: node.index,
        exited: node.exited,
        published: published[node.index] ?? 0,
        missing: nodeMissing,
        bySync: check?.bySync ?? null,
        missingRanges: check?.missingRanges ?? {},
        samples: node.samples,
        memory,
      }
    })
    if (report.failures > options.maxFailedCycles) {
      failures.push(`${report.failures} of ${report.cycles} churn cycles failed: ${report.errors[0] ?? ''}`)
    }
    const { log: _log, ...plainOptions } = options
    return {
      protector: options.protector,
      options: plainOptions,
      durationMs: Date.now() - startedAt,
      churn: {
        ...report,
        cyclesPerSecond: Math.round((report.cycles / (report.elapsedMs / 1000)) * 10) / 10,
      },
      nodes: results,
      failures,
    }
  } finally {
    if (churner !== undefined) await stopChild(churner, 2000)
    await Promise.all(nodes.map((node) => stopChild(node.child, 5000)))
    rmSync(dir, { recursive: true, force: true })
  }
}

async function startNode(
  index: number,
  seeds: string[],
  meshKeyFile: string,
  startedAt: number,
  maxRecordsPerNode: number,
  options: ChurnSoakOptions,
): Promise<LiveNode> {
  const config: SoakNodeConfig = {
    index,
    nodes: options.nodes,
    meshKeyFile,
    seeds,
    realm: REALM,
    sampleMs: options.sampleMs,
    startedAt,
    recordTtlMs: options.recordTtlMs,
    pruneIntervalMs: options.pruneIntervalMs,
    maxRecordsPerNode,
  }
  // --expose-gc: heap samples are taken after a full GC, so they show live data, not garbage.
  const execArgv = ['--expose-gc']
  if (options.protector === 'pnet') execArgv.push('--import', join(here, 'stock-pnet-register.mjs'))
  const { child, ready } = await withTimeout(
    forkScript(join(here, 'soak-node.ts'), [JSON.stringify(config)], { execArgv }),
    READY_TIMEOUT_MS,
    `node ${index} to start`,
  )
  const node: LiveNode = {
    index,
    child,
    multiaddrs: ready.multiaddrs as string[],
    samples: [],
    connections: 0,
    exited: null,
  }
  child.on('message', (message: { type: string; sample?: MemorySample; connections?: number }) => {
    if (message.type !== 'sample' || message.sample === undefined) return
    node.samples.push(message.sample)
    node.connections = message.connections ?? 0
  })
  child.once('exit', (code, signal) => {
    node.exited = signal !== null ? `signal ${signal}` : `code ${code}`
  })
  return node
}

function churnerDone(
  child: ChildProcess,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<ChurnerReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the churner did not finish in time')), timeoutMs)
    child.on('message', (message: ChurnerReport & { type: string }) => {
      if (message.type === 'progress') log(`  ${message.cycles} cycles, ${message.failures} failed`)
      if (message.type !== 'done') return
      clearTimeout(timer)
      const { type: _type, ...report } = message
      resolve(report)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the churner exited (${code}) before it was done`))
    })
  })
}

interface NodeCheck {
  missing: number
  /** records of the others that dissemination did not deliver and anti-entropy sync then did */
  bySync: number
  /** per origin, the first runs of sequence numbers that never arrived, [from, to] */
  missingRanges: Record<number, Array<[number, number]>>
}

/** Asks each live node what it misses until nothing is missing or the time is up. */
async function settle(
  nodes: LiveNode[],
  published: number[],
  timeoutMs: number,
): Promise<Map<number, NodeCheck>> {
  const deadline = Date.now() + timeoutMs
  const checks = new Map<number, NodeCheck>()
  for (;;) {
    for (const node of nodes) {
      if (node.exited !== null) continue
      const answer = await request<NodeCheck>(node.child, 'check', { published }).catch(() => undefined)
      if (answer !== undefined) checks.set(node.index, answer)
    }
    const total = [...checks.values()].reduce((sum, check) => sum + check.missing, 0)
    if (total === 0 || Date.now() > deadline) return checks
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
