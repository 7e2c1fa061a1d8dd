// The memcached endpoint under concurrent clients, beside a real memcached (Debian) in the same run:
// get and set throughput and latency, as ratios. Both servers run in their own processes; the load
// generator in a third. tlsmeshd runs twice: as installed by default, and with --transport-thread.
// --split adds a mesh node with the endpoint on its replica: embedded, split (the
// mesh on a worker thread, bench/lib/split-node-process.ts) and threaded (createMeshNode's
// transportThread), to compare them in one run.
//   node --import tsx bench/memcache.ts [--connections 16] [--seconds 5] [--repeat 3] [--split]
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateMeshKey } from '@tlsmesh/mesh'
import { progress, spread, writeResult } from './lib/bench-report.ts'
import { freePort, startMemcached } from './lib/memcached-process.ts'
import { startMeshNode } from './lib/mesh-fleet.ts'

const run = promisify(execFile)
const { values } = await import('node:util').then(({ parseArgs }) =>
  parseArgs({
    options: {
      connections: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '5' },
      repeat: { type: 'string', default: '3' },
      'value-bytes': { type: 'string', default: '200' },
      split: { type: 'boolean', default: false },
      out: { type: 'string', default: 'memcache' },
    },
  }),
)
const connections = Number(values.connections)
const seconds = Number(values.seconds)
const repeat = Number(values.repeat)
const valueBytes = Number(values['value-bytes'])
const root = fileURLToPath(new URL('..', import.meta.url))

async function startTlsmeshd(port: number, dir: string, extraArgs: string[] = []): Promise<ChildProcess> {
  const keyFile = join(dir, 'mesh.key')
  writeFileSync(keyFile, generateMeshKey(), { mode: 0o600 })
  const adminPort = await freePort()
  const child = spawn(
    process.execPath,
    [
      join(root, 'apps/tlsmeshd/bin/tlsmeshd.js'),
      '--mesh-key',
      keyFile,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--memcache',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    { stdio: 'ignore' },
  )
  process.once('exit', () => child.kill('SIGKILL'))
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return child
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('tlsmeshd did not start')
}

/** User + system CPU a process has spent so far, in ms (/proc counts in USER_HZ, 100 a second on Linux). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function load(port: number, op: 'get' | 'set') {
  const { stdout } = await run(
    process.execPath,
    [
      // The load generator allocates per request; with V8's default young generation its own GC
      // pauses were most of the p99 measured against either server.
      '--max-semi-space-size=32',
      '--import',
      'tsx',
      join(root, 'bench/lib/memcache-load.ts'),
      JSON.stringify({ port, connections, seconds, op, valueBytes, keys: 1000 }),
    ],
    { timeout: (seconds + 60) * 1000 },
  )
  return JSON.parse(stdout) as { opsPerSecond: number; p50Ms: number; p99Ms: number }
}

const THREADED = 'tlsmeshd --transport-thread'
const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-bench-'))
const memcachedPort = await freePort()
const tlsmeshPort = await freePort()
const memcached = await startMemcached(memcachedPort)
const tlsmeshd = await startTlsmeshd(tlsmeshPort, dir)
const threadedPort = await freePort()
const threaded = await startTlsmeshd(threadedPort, dir, ['--transport-thread'])
const meshNodes: Array<[string, number, number]> = []
if (values.split) {
  const meshKeyFile = join(dir, 'mesh.key')
  for (const design of ['embedded', 'split', 'threaded'] as const) {
    const port = await freePort()
    const node = await startMeshNode({
      meshKeyFile,
      seeds: [],
      realms: ['default'],
      memcache: { port, realm: 'default' },
      split: design === 'split',
      transportThread: design === 'threaded',
    })
    meshNodes.push([design === 'embedded' ? 'mesh node' : `mesh node, ${design}`, port, node.child.pid!])
  }
}
type Row = { opsPerSecond: number[]; p50Ms: number[]; p99Ms: number[]; serverCpuUsPerOp: number[] }
const results: Record<string, Row> = {}
try {
  for (let r = 0; r < repeat; r++) {
    for (const op of ['get', 'set'] as const) {
      for (const [server, port, pid] of [
        ['memcached', memcachedPort, memcached.pid!] as const,
        ['tlsmeshd', tlsmeshPort, tlsmeshd.pid!] as const,
        [THREADED, threadedPort, threaded.pid!] as const,
        ...meshNodes,
      ]) {
        // The server's CPU over the load, its 1,000 populating sets included (under 1% of a run's requests).
        const cpuBefore = cpuMsOf(pid)
        const m = await load(port, op)
        const cpuUsPerOp = ((cpuMsOf(pid) - cpuBefore) * 1000) / (m.opsPerSecond * seconds)
        const name = `${server} ${op}`
        const row = results[name] ?? { opsPerSecond: [], p50Ms: [], p99Ms: [], serverCpuUsPerOp: [] }
        results[name] = row
        row.opsPerSecond.push(m.opsPerSecond)
        row.p50Ms.push(m.p50Ms)
        row.p99Ms.push(m.p99Ms)
        row.serverCpuUsPerOp.push(cpuUsPerOp)
        progress(
          `run ${r + 1}/${repeat} ${server} ${op}: ${m.opsPerSecond.toFixed(0)} ops/s, p50 ${m.p50Ms.toFixed(3)} ms, p99 ${m.p99Ms.toFixed(3)} ms, server CPU ${cpuUsPerOp.toFixed(1)} us/op`,
        )
      }
    }
  }
} finally {
  memcached.kill('SIGKILL')
  tlsmeshd.kill('SIGTERM')
  threaded.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
const rows = Object.entries(results).map(([name, row]) => ({
  name,
  opsPerSecond: spread(row.opsPerSecond),
  p50Ms: spread(row.p50Ms),
  p99Ms: spread(row.p99Ms),
  serverCpuUsPerOp: spread(row.serverCpuUsPerOp),
}))
const ratio = (op: string, server = 'tlsmeshd') =>
  spread(
    results[`${server} ${op}`]!.opsPerSecond.map((v, i) => v / results[`memcached ${op}`]!.opsPerSecond[i]!),
  )
const result = {
  connections,
  seconds,
  repeat,
  valueBytes,
  rows,
  throughputRatio: { get: ratio('get'), set: ratio('set') },
  threadedThroughputRatio: { get: ratio('get', THREADED), set: ratio('set', THREADED) },
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
process.exit(0)
