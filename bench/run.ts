// pnpm bench [part ...]: runs the benchmark parts one after another (each alone on the machine),
// then regenerates BENCHMARKS.md. Parts: fleet-resumption, fleet-distance, scale, overload, ingest,
// catch-up, sync-efficiency, stall, stall-isolated, stall-split, stall-tls, answer-turns, memcache, memory, startup,
// simulation.
// Extra flags after `--` go to every part.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const PARTS = [
  'fleet-resumption',
  'fleet-distance',
  'scale',
  'overload',
  'ingest',
  'catch-up',
  'sync-efficiency',
  'stall',
  'stall-isolated',
  'stall-split',
  'stall-threaded',
  'stall-tls',
  'answer-turns',
  'memcache',
  'memory',
  'startup',
  'simulation',
] as const
type Part = (typeof PARTS)[number]
/**
 * Minutes a part may run (15 unless listed): stall fills fresh nodes with 1,000,000 records each run;
 * simulation runs N up to 10,000 one after another (about 10 minutes alone on 2 cores);
 * fleet-distance starts a lab of 20 processes per round-trip time (about 5 minutes).
 */
const TIMEOUT_MINUTES: Partial<Record<Part, number>> = {
  stall: 45,
  'stall-isolated': 45,
  'stall-split': 45,
  'stall-threaded': 45,
  'stall-tls': 45,
  simulation: 40,
  'fleet-distance': 15,
}
/** Parts that run another part's script with flags of their own. */
const VARIANTS: Partial<Record<Part, { script: string; args: string[] }>> = {
  'stall-isolated': { script: 'stall', args: ['--isolate', '--out', 'stall-isolated'] },
  // The prototype of the mesh on a worker thread, M's server thread on a core of its own.
  'stall-split': { script: 'stall', args: ['--isolate', '--design', 'split', '--out', 'stall-split'] },
  // The product's way (createMeshNode's transportThread), M's server thread on a core of its own.
  'stall-threaded': {
    script: 'stall',
    args: ['--isolate', '--design', 'threaded', '--out', 'stall-threaded'],
  },
  // M as a Node server embedding the mesh: TLS clients resuming sessions from its replica, no gets.
  'stall-tls': { script: 'stall', args: ['--get-rate', '0', '--resume-rate', '200', '--out', 'stall-tls'] },
}
/** The simulator at N = 10,000 peaks at 4.4 GB of RSS, past Node's default heap limit (~4 GB). */
const NODE_FLAGS: Partial<Record<Part, string[]>> = {
  simulation: ['--max-old-space-size=8192'],
  // Two replicas of 1,000,000 records in one process.
  'answer-turns': ['--max-old-space-size=4096'],
}
const args = process.argv.slice(2)
const dash = args.indexOf('--')
const chosen = (dash >= 0 ? args.slice(0, dash) : args).filter((a) => !a.startsWith('-'))
const extra = dash >= 0 ? args.slice(dash + 1) : []
const unknown = chosen.filter((p) => !(PARTS as readonly string[]).includes(p))
if (unknown.length > 0) {
  console.error(`unknown part(s): ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`)
  process.exit(2)
}
const parts = chosen.length > 0 ? chosen : [...PARTS]
const started = Date.now()
for (const [i, part] of parts.entries()) {
  process.stderr.write(
    `\n[bench] ${i + 1}/${parts.length} ${part} (${Math.round((Date.now() - started) / 1000)} s so far)\n`,
  )
  const variant = VARIANTS[part as Part]
  const script = fileURLToPath(new URL(`./${variant?.script ?? part}.ts`, import.meta.url))
  const flags = NODE_FLAGS[part as Part] ?? []
  const args = [...flags, '--import', 'tsx', script, ...(variant?.args ?? []), ...extra]
  const result = spawnSync(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: (TIMEOUT_MINUTES[part as Part] ?? 15) * 60_000,
  })
  if (result.status !== 0) {
    console.error(`[bench] ${part} failed (${result.status ?? result.signal})`)
    process.exit(1)
  }
}
spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./render.ts', import.meta.url))], {
  stdio: 'inherit',
})
process.stderr.write(`[bench] done in ${Math.round((Date.now() - started) / 1000)} s\n`)
