// Coverage-guided fuzzing of the decoders, for a bounded time, outside the normal test run.
//   node --import tsx scripts/fuzz/fuzz.ts [--target NAME|all] [--seconds 60] [--max-len 4096]
//        [--dir .tmp/fuzz] [--seed N] [--slow-ms 100] [--json]
//   node --import tsx scripts/fuzz/fuzz.ts --target NAME --reproduce FILE
// Exit status: 0 no finding, 1 findings (saved under <dir>/<target>/crashes), 2 usage error.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type FuzzReport, type FuzzTarget, reproduce, runFuzzer } from './coverage-fuzzer.ts'
import { memcacheBinaryTarget, memcacheTextTarget } from './memcache-targets.ts'
import { wireBatchTarget, wireBroadcastTarget, wireSyncTarget } from './wire-targets.ts'

const TARGETS: readonly FuzzTarget[] = [
  wireBatchTarget,
  wireSyncTarget,
  wireBroadcastTarget,
  memcacheTextTarget,
  memcacheBinaryTarget,
]

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    seconds: { type: 'string', default: '60' },
    'max-len': { type: 'string', default: '4096' },
    dir: { type: 'string', default: '.tmp/fuzz' },
    seed: { type: 'string' },
    'slow-ms': { type: 'string', default: '100' },
    reproduce: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})

const selected = values.target === 'all' ? TARGETS : TARGETS.filter((t) => t.name === values.target)
const seconds = Number(values.seconds)
const maxLen = Number(values['max-len'])
if (selected.length === 0 || !(seconds > 0) || !(maxLen > 0)) {
  console.error(`usage: --target ${['all', ...TARGETS.map((t) => t.name)].join('|')} --seconds N (> 0)`)
  process.exit(2)
}

if (values.reproduce !== undefined) {
  if (selected.length !== 1) {
    console.error('--reproduce needs one --target')
    process.exit(2)
  }
  reproduce(selected[0]!, values.reproduce)
  console.log('no finding: the target returned normally')
  process.exit(0)
}

const log = (line: string): void => {
  process.stderr.write(`[fuzz] ${line}\n`)
}
const reports: FuzzReport[] = []
for (const target of selected) {
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() >>> 0
  log(`${target.name}: ${seconds} s, seed ${seed}`)
  reports.push(
    runFuzzer(target, {
      seconds,
      maxLen,
      dir: join(values.dir, target.name),
      seed,
      slowMs: Number(values['slow-ms']),
      log,
    }),
  )
}

if (values.json) console.log(JSON.stringify(reports, null, 2))
else {
  for (const r of reports) {
    console.log(
      `${r.target.padEnd(16)} ${String(r.runs).padStart(8)} runs ${String(r.runsPerSecond).padStart(6)}/s ` +
        `corpus ${String(r.corpus).padStart(5)} features ${String(r.features).padStart(6)} findings ${r.findings.length}`,
    )
    for (const f of r.findings) console.log(`  ${f.message}\n    ${f.file}`)
  }
}
process.exit(reports.some((r) => r.findings.length > 0) ? 1 : 0)
