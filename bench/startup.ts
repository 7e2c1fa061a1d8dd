// Start-up: time from spawning tlsmeshd (one node, no seeds) to its first 200 on /readyz, and the
// wall time of CLI commands, for the workspace's binaries (TypeScript through tsx) and the release's
// (the bundled JavaScript `pnpm release` ships), run by run in alternating order so that both meet
// the same moments of a busy machine.
//   node --import tsx bench/startup.ts [--repeat 7] [--release DIR]
// --release: a `pnpm release --out DIR` made before; by default one is built (npm tarballs only).
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { progress, requireWholeNumbers, type Spread, spread, writeResult } from './lib/bench-report.ts'
import { freePort } from './lib/memcached-process.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '7' },
    release: { type: 'string' },
    out: { type: 'string', default: 'startup' },
  },
})
const repeat = Number(values.repeat)
requireWholeNumbers('startup', { repeat })

interface Variant {
  name: 'workspace' | 'release'
  tlsmeshd: string
  tlsmesh: string
}

const work = mkdtempSync(join(tmpdir(), 'tlsmesh-startup-'))
process.once('exit', () => rmSync(work, { recursive: true, force: true }))
let releaseDir = values.release
if (releaseDir === undefined) {
  releaseDir = join(work, 'release')
  progress('building the release (pnpm release --npm-only)')
  await run(
    process.execPath,
    ['--import', 'tsx', 'scripts/release/release.ts', '--npm-only', '--out', releaseDir],
    {
      cwd: root,
    },
  )
}
const variants: Variant[] = [
  {
    name: 'workspace',
    tlsmeshd: join(root, 'apps/tlsmeshd/bin/tlsmeshd.js'),
    tlsmesh: join(root, 'apps/tlsmesh/bin/tlsmesh.js'),
  },
  {
    name: 'release',
    tlsmeshd: join(releaseDir, 'stage/tlsmesh/dist/tlsmeshd.js'),
    tlsmesh: join(releaseDir, 'stage/tlsmesh/dist/tlsmesh.js'),
  },
]
const meshKey = join(work, 'mesh.key')
await run(process.execPath, [variants[1]!.tlsmesh, 'keygen', '--out', meshKey])

/** The CLI commands timed; `ADMIN` becomes the running node's admin address. */
const COMMANDS: Record<string, (v: Variant) => string[]> = {
  'tlsmeshd --help': (v) => [v.tlsmeshd, '--help'],
  'tlsmesh --version': (v) => [v.tlsmesh, '--version'],
  'tlsmesh keygen': (v) => [v.tlsmesh, 'keygen', '--force', '--out', join(work, `${v.name}.key`)],
  'tlsmesh status': (v) => [v.tlsmesh, 'status', '--admin', 'ADMIN'],
  'tlsmesh peers': (v) => [v.tlsmesh, 'peers', '--admin', 'ADMIN'],
}

async function timed(args: string[]): Promise<number> {
  const started = performance.now()
  await run(process.execPath, args, { timeout: 30_000 })
  return performance.now() - started
}

/** Spawns a node, polls /readyz every 5 ms; resolves with the time to ready and the running node. */
async function startNode(
  variant: Variant,
): Promise<{ readyMs: number; admin: string; stop: () => Promise<void> }> {
  const [mesh, admin] = [await freePort(), await freePort()]
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [
      variant.tlsmeshd,
      '--mesh-key',
      meshKey,
      '--identity',
      join(work, `${variant.name}-${mesh}.id`),
      '--listen',
      `/ip4/127.0.0.1/tcp/${mesh}`,
      '--admin',
      `127.0.0.1:${admin}`,
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${variant.name}: tlsmeshd exited at start`)
    const ok = await fetch(`http://127.0.0.1:${admin}/readyz`).then(
      (response) => response.ok,
      () => false,
    )
    if (ok) break
    if (performance.now() - started > 30_000) throw new Error(`${variant.name}: not ready in 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const readyMs = performance.now() - started
  return {
    readyMs,
    admin: `127.0.0.1:${admin}`,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

const samples = new Map<string, number[]>()
const add = (variant: Variant, what: string, ms: number) => {
  const key = `${variant.name}\t${what}`
  samples.set(key, [...(samples.get(key) ?? []), ms])
}
for (let r = 0; r < repeat; r++) {
  // Alternate which goes first: the first of a pair meets a colder file cache.
  for (const variant of r % 2 === 0 ? variants : [...variants].reverse()) {
    const node = await startNode(variant)
    add(variant, 'readyz', node.readyMs)
    for (const [what, args] of Object.entries(COMMANDS)) {
      add(variant, what, await timed(args(variant).map((a) => (a === 'ADMIN' ? node.admin : a))))
    }
    await node.stop()
    progress(`run ${r + 1}/${repeat} ${variant.name}: /readyz in ${node.readyMs.toFixed(0)} ms`)
  }
}

const measures = ['readyz', ...Object.keys(COMMANDS)]
const of = (variant: string, what: string): Spread => spread(samples.get(`${variant}\t${what}`)!)
const rows = measures.map((what) => {
  const workspace = of('workspace', what)
  const release = of('release', what)
  return { what, workspaceMs: workspace, releaseMs: release, ratio: release.median / workspace.median }
})
const path = writeResult(values.out, { repeat, rows })
console.log(
  JSON.stringify(
    rows.map((r) => ({ what: r.what, workspace: r.workspaceMs.median, release: r.releaseMs.median })),
  ),
)
progress(`wrote ${path}`)
