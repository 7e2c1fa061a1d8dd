// One chart per issue-15 target whose section had only a table: built from the results JSON that
// bench/render.ts reads, each figure a median with a min–max whisker where the runs give one.
import type { Spread } from './bench-report.ts'
import { barChart, lineChart, type Series } from './svg-chart.ts'

// biome-ignore lint/suspicious/noExplicitAny: results are read back from our own JSON
type Json = any

/** A series of medians with their min–max, one value per item. */
function spreadSeries<T>(name: string, items: T[], pick: (item: T) => Spread | undefined): Series {
  const spreads = items.map(pick)
  return {
    name,
    values: spreads.map((s) => s?.median ?? Number.NaN),
    low: spreads.map((s) => s?.min ?? Number.NaN),
    high: spreads.map((s) => s?.max ?? Number.NaN),
  }
}

const PHASES = ['idle', 'catch-up', 'queries', 'replication']

/** Runs of the stall bench on M's threads other than the embedded mesh's, each isolated. */
export interface StallDesigns {
  /** The prototype: the whole mesh on a worker thread. */
  split?: Json
  /** transportThread: the transport on a worker, the replica on the server's thread. */
  threaded?: Json
}

/**
 * Target 1: a stall-bench figure per phase, one series per replica size and placement, and for each
 * design on a worker thread (isolated) that has a run.
 */
function stallSeries(
  stall: Json,
  isolated: Json | undefined,
  field: string,
  designs: StallDesigns,
): Series[] {
  const runs = [
    { label: '', stall },
    ...(isolated ? [{ label: ', isolated', stall: isolated }] : []),
    ...(designs.split ? [{ label: ', mesh on a worker, isolated', stall: designs.split }] : []),
    ...(designs.threaded ? [{ label: ', transport on a worker, isolated', stall: designs.threaded }] : []),
  ]
  return runs.flatMap(({ label, stall }) =>
    (stall.sizes as number[]).map((size) =>
      spreadSeries(
        `${size.toLocaleString('en-US')} records${label}`,
        PHASES,
        (phase) => stall.rows.find((r: Json) => r.size === size && r.phase === phase)?.[field],
      ),
    ),
  )
}

export function stallLoopChart(stall: Json, isolated: Json | undefined, designs: StallDesigns = {}): string {
  return barChart({
    title: `Stalls: M's event-loop delay p99 by phase (target <= ${stall.targets.loopP99Ms} ms)`,
    yLabel: 'ms',
    categories: PHASES,
    series: stallSeries(stall, isolated, 'loopP99Ms', designs),
  })
}

export function stallGetChart(stall: Json, isolated: Json | undefined, designs: StallDesigns = {}): string {
  return barChart({
    title: `Stalls: memcached get p99 over the idle phase's (catch-up target <= ${stall.targets.catchUpGetP99OverIdle}x)`,
    yLabel: 'x idle p99',
    categories: PHASES,
    series: stallSeries(stall, isolated, 'getP99OverIdle', designs),
  })
}

/** Target 1: the TLS clients' resumptions of a run that had them (stall-tls). */
export function stallResumeChart(stall: Json): string {
  return barChart({
    title: "Stalls: TLS 1.2 resumption handshake p99 over the idle phase's",
    yLabel: 'x idle p99',
    categories: PHASES,
    series: stallSeries(stall, undefined, 'resumeP99OverIdle', {}),
  })
}

/** Target 2: a leaf's µs per record by what it was doing, the largest categories, per profile. */
export function receiveCostChart(
  columns: Array<{ title: string; profile: Json }>,
  categories: string[],
): string {
  const shown = categories.slice(0, 10)
  return barChart({
    title: "Receive cost: a leaf's µs of CPU per record, by what it did (target: a tree leaf <= 12)",
    yLabel: 'µs per record',
    categories: shown,
    series: columns.map((c) => ({
      name: c.title,
      values: shown.map(
        (category) => c.profile.categories.find((x: Json) => x.category === category)?.usPerRecord ?? 0,
      ),
    })),
  })
}

/** Target 6: propagation when calm and under overload, push beside the tree. */
export function overloadChart(overload: Json): string {
  const fields: Array<[string, string]> = [
    ['calm p50', 'calmP50Ms'],
    ['calm p99', 'calmP99Ms'],
    ['overload p50', 'p50Ms'],
    ['overload p99', 'p99Ms'],
  ]
  const shown = fields.filter(([, field]) => overload.rows.every((r: Json) => r[field] !== undefined))
  return barChart({
    title: `Overload: ${overload.nodes} nodes on one core, propagation to every node (target: tree p99 <= push's)`,
    yLabel: 'ms',
    categories: shown.map(([label]) => label),
    series: overload.rows.map((r: Json) => spreadSeries(r.design, shown, ([, field]) => r[field])),
  })
}

/** Target 3: the rate that reached every node against the rate offered. */
export function ingestChart(ingest: Json, targetPerSecond: number): string {
  const rows: Json[] = ingest.rows
  const x = rows.map((r) => r.offeredRatePerSecond as number)
  return lineChart({
    title: `Ingest: records/s into every node of ${ingest.nodes} (target ${targetPerSecond.toLocaleString('en-US')})`,
    yLabel: 'records/s',
    xLabel: 'offered records/s',
    x,
    series: [
      { name: 'offered', values: x },
      { name: 'reached every node', values: rows.map((r) => (r.records / r.completeMs.median) * 1000) },
      { name: 'target', values: x.map(() => targetPerSecond) },
    ],
  })
}

/** Target 5: one memcache-bench figure for get and set, memcached beside tlsmeshd. */
export function memcacheChart(memcache: Json, field: 'opsPerSecond' | 'p99Ms'): string {
  const operations = ['get', 'set']
  const row = (server: string, operation: string): Json =>
    memcache.rows.find((r: Json) => r.name === `${server} ${operation}`)
  const opsPerSecond = field === 'opsPerSecond'
  return barChart({
    title: opsPerSecond
      ? `memcached endpoint: operations/s with ${memcache.connections} clients (target: tlsmeshd >= memcached)`
      : `memcached endpoint: p99 with ${memcache.connections} clients (target: tlsmeshd <= 1.2x memcached)`,
    yLabel: opsPerSecond ? 'operations/s' : 'ms',
    categories: operations,
    series: ['memcached', 'tlsmeshd', 'tlsmeshd --transport-thread']
      .filter((server) => operations.some((operation) => row(server, operation) !== undefined))
      .map((server) => spreadSeries(server, operations, (operation) => row(server, operation)?.[field])),
  })
}

/** Target 7: heap per record for each holder and size, beside twice the payload. */
export function memoryChart(memory: Json): string {
  const rows: Json[] = memory.rows
  const holder = (r: Json): string =>
    r.digest !== true ? 'store' : (r.proofBatch ?? 0) > 0 ? 'node with proofs' : 'node'
  return barChart({
    title: 'Memory: heap bytes per record (target: a node at 1,000,000 records <= 2x the payload)',
    yLabel: 'bytes per record',
    categories: rows.map((r) => `${holder(r)}, ${r.count.toLocaleString('en-US')}`),
    series: [
      spreadSeries('heap', rows, (r) => r.bytesPerRecord),
      { name: '2x the payload', values: rows.map((r) => (2 * r.payloadBytes) / r.count) },
    ],
  })
}
