// pnpm sim [--scenario steady|crash|partition|churn] [--nodes N] [--seed S] [--records R] [--rate R/s] [--json]:
// the real Plumtree on N simulated nodes in virtual time (see README.md).
import { parseArgs } from 'node:util'
import { formatTable } from './report.ts'
import { SCENARIOS, type ScenarioName } from './scenarios.ts'
import { DEFAULT_OPTIONS, JOIN_MODES, type JoinMode, runSimulation, type SimOptions } from './simulation.ts'

function parseOptions(argv: string[]): { options: SimOptions; json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      nodes: { type: 'string' },
      seed: { type: 'string' },
      records: { type: 'string' },
      'warmup-records': { type: 'string' },
      rate: { type: 'string' },
      regions: { type: 'string' },
      loss: { type: 'string' },
      'lan-ms': { type: 'string' },
      'wan-ms': { type: 'string' },
      'lan-mbps': { type: 'string' },
      'wan-mbps': { type: 'string' },
      'handle-ms': { type: 'string' },
      join: { type: 'string' },
      json: { type: 'boolean' },
      'tree-only': { type: 'boolean' },
      origin: { type: 'string' },
    },
  })
  const scenario = (values.scenario ?? DEFAULT_OPTIONS.scenario) as ScenarioName
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario: one of ${SCENARIOS.join(', ')}`)
  const join = (values.join ?? DEFAULT_OPTIONS.join) as JoinMode
  if (!JOIN_MODES.includes(join)) throw new Error(`--join: one of ${JOIN_MODES.join(', ')}`)
  const number = (name: string, raw: string | undefined, fallback: number): number => {
    const value = raw === undefined ? fallback : Number(raw)
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a number >= 0, got ${raw}`)
    return value
  }
  const nodes = number('nodes', values.nodes, DEFAULT_OPTIONS.nodes)
  const options: SimOptions = {
    ...DEFAULT_OPTIONS,
    scenario,
    nodes,
    seed: number('seed', values.seed, DEFAULT_OPTIONS.seed),
    records: number('records', values.records, DEFAULT_OPTIONS.records),
    warmupRecords: number('warmup-records', values['warmup-records'], DEFAULT_OPTIONS.warmupRecords),
    rate: number('rate', values.rate, DEFAULT_OPTIONS.rate),
    regions: number('regions', values.regions, DEFAULT_OPTIONS.regions),
    loss: number('loss', values.loss, DEFAULT_OPTIONS.loss),
    lanMs: number('lan-ms', values['lan-ms'], DEFAULT_OPTIONS.lanMs),
    wanMs: number('wan-ms', values['wan-ms'], DEFAULT_OPTIONS.wanMs),
    lanMbps: number('lan-mbps', values['lan-mbps'], DEFAULT_OPTIONS.lanMbps),
    wanMbps: number('wan-mbps', values['wan-mbps'], DEFAULT_OPTIONS.wanMbps),
    handleMs: number('handle-ms', values['handle-ms'], DEFAULT_OPTIONS.handleMs),
    join,
    catchUp: values['tree-only'] !== true,
    ...(values.origin !== undefined ? { origin: number('origin', values.origin, 0) } : {}),
  }
  if (options.origin !== undefined && !(Number.isInteger(options.origin) && options.origin < nodes)) {
    throw new Error(`--origin: a node index from 0 to ${nodes - 1}, got ${values.origin}`)
  }
  if (options.nodes < 2 || options.regions < 1 || options.rate <= 0) {
    throw new Error('--nodes: at least 2; --regions: at least 1; --rate: above 0')
  }
  if (options.lanMbps <= 0 || options.wanMbps <= 0) {
    throw new Error('--lan-mbps, --wan-mbps: above 0')
  }
  return { options, json: values.json === true }
}

const { options, json } = parseOptions(process.argv.slice(2))
const began = performance.now()
const result = await runSimulation(options, (line) => process.stderr.write(`${line}\n`))
// Wall time on stderr only: stdout is the same for the same seed.
process.stderr.write(`done in ${((performance.now() - began) / 1000).toFixed(1)} s\n`)
process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${formatTable(result)}\n`)
