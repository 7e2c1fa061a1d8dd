// Fleet resumption across a network (issue 15, target 8): bench/fleet-resumption.ts with every host
// in a network namespace of its own and a round trip of --rtt-ms between any two hosts, so that each
// server's lookup in the central memcached and each mesh hop crosses the emulated network. Hosts:
// three servers (an HTTPS server per row and a tlsmeshd beside them), the central memcached, the
// balancers (one per row) and the clients. Rows: server-local caches (the floor), central memcached,
// tlsmesh (a node embedded in each server) and tlsmesh (local daemons: each server talks memcached
// to its tlsmeshd over a unix socket). After a warm-up pass, rows run interleaved, --repeat times;
// after each round, the resume delay of each shared-cache row (scripts/fleet/resume-delay.ts,
// --samples sessions per row). A round trip of 0 is the same lab with no delay added: the harness's
// own cost. Needs root.
//   node --import tsx bench/fleet-distance.ts [--rtt-ms 0,0.25,1] [--connections 1500] [--loops 8]
//     [--repeat 3] [--samples 50]
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createFleetFiles, type Fleet, type FleetFiles, startFleet } from '../scripts/fleet/fleet.ts'
import type { ChainedClientInit } from '../scripts/fleet/resume-client.ts'
import { RESUME_DELAY_LADDER_MS, type ResumeDelayResult } from '../scripts/fleet/resume-delay.ts'
import { waitUntil } from '../test/e2e/lib/managed-process.ts'
import { createNetnsLab, type LabHost, type NetnsLab, netnsUnavailableReason } from '../test/e2e/lib/netns.ts'
import { NETNS_MESH_PORT } from '../test/e2e/lib/netns-fleet.ts'
import { createMeshKey } from '../test/e2e/lib/tlsmeshd-fleet.ts'
import { progress, requireWholeNumbers, spread, writeResult } from './lib/bench-report.ts'
import { describeRun, type FleetRun, spreadRuns, summarizeRun } from './lib/fleet-run.ts'
import { killLabProcesses, type LabClient, startLabClient, startLabTlsmeshd } from './lib/lab-processes.ts'
import { addLinkDelay, type LinkDelay } from './lib/link-delay.ts'
import { startMemcached } from './lib/memcached-process.ts'

const { values } = parseArgs({
  options: {
    'rtt-ms': { type: 'string', default: '0,0.25,1' },
    connections: { type: 'string', default: '1500' },
    loops: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '3' },
    samples: { type: 'string', default: '50' },
    out: { type: 'string', default: 'fleet-distance' },
  },
})
// Skipped rather than failed, so that `pnpm bench` as an ordinary user still runs the other parts.
const unavailable = netnsUnavailableReason()
if (unavailable !== undefined) {
  console.error(`bench/fleet-distance.ts: skipped: ${unavailable}`)
  process.exit(0)
}
const rtts = values['rtt-ms'].split(',').map(Number)
const connections = Number(values.connections)
const loops = Number(values.loops)
const repeat = Number(values.repeat)
const samples = Number(values.samples)
requireWholeNumbers('fleet-distance', { connections, loops, repeat, samples })
if (!rtts.every((rtt) => Number.isFinite(rtt) && rtt >= 0)) {
  console.error('fleet-distance: --rtt-ms must be numbers of at least 0, comma separated')
  process.exit(2)
}

const TLS_VERSION = 'TLSv1.2' as const
const MEMCACHED_PORT = 11211
const RTT_SAMPLES = 50
const DAEMON_REALM = 'default'
const ROWS = ['server-local caches', 'central memcached', 'tlsmesh', 'tlsmesh (local daemons)'] as const
type Row = (typeof ROWS)[number]
/** Rows whose servers share sessions: the ones whose resume delay means something. */
const SHARED: Row[] = ['central memcached', 'tlsmesh', 'tlsmesh (local daemons)']

interface Hosts {
  servers: LabHost[]
  cache: LabHost
  balancer: LabHost
  client: LabHost
}

function placeHosts(lab: NetnsLab): Hosts {
  const [s1, s2, s3, cache, balancer, client] = lab.hosts
  return { servers: [s1!, s2!, s3!], cache: cache!, balancer: balancer!, client: client! }
}

/** Three tlsmeshd, one per server host: the first alone, the others seeded with it; once meshed. */
async function startDaemons(hosts: Hosts, meshKeyFile: string, socketOf: (i: number) => string) {
  const config = (i: number, seeds: string[]) => ({
    name: `tlsmeshd-${i + 1}`,
    meshKeyFile,
    realm: DAEMON_REALM,
    address: hosts.servers[i]!.address,
    port: NETNS_MESH_PORT,
    seeds,
    memcacheSocket: socketOf(i),
  })
  const first = await startLabTlsmeshd(hosts.servers[0]!, config(0, []))
  const rest = await Promise.all(
    [1, 2].map((i) => startLabTlsmeshd(hosts.servers[i]!, config(i, [first.seedAddr]))),
  )
  const daemons = [first, ...rest]
  await waitUntil(
    'the daemons to mesh',
    async () =>
      (await Promise.all(daemons.map((d) => d.status()))).every((s) => s.meshPeers >= 2) || undefined,
    { timeoutMs: 30_000, intervalMs: 200 },
  )
  return daemons
}

async function startFleets(
  hosts: Hosts,
  files: FleetFiles,
  socketOf: (i: number) => string,
): Promise<Record<Row, Fleet>> {
  const placed = { servers: 3, files, hosts: hosts.servers, balancerHost: hosts.balancer }
  const fleets: Record<Row, Fleet> = {
    'server-local caches': await startFleet({ ...placed, mode: 'local' }),
    'central memcached': await startFleet({
      ...placed,
      mode: 'remote',
      memcache: () => ({ host: hosts.cache.address, port: MEMCACHED_PORT }),
    }),
    tlsmesh: await startFleet({ ...placed, mode: 'mesh' }),
    'tlsmesh (local daemons)': await startFleet({
      ...placed,
      mode: 'remote',
      memcache: (i) => ({ socketPath: socketOf(i) }),
    }),
  }
  await fleets.tlsmesh.waitForMesh()
  return fleets
}

interface ResumeDelayRun {
  /** Share of samples that resumed on the attempt made as A's handshake completed. */
  firstAttemptRate: number
  /** The slowest sample that resumed: ms from A's handshake to the attempt that resumed. */
  maxMs: number
  never: number
  errors: number
}

function summarizeResumeDelay(r: ResumeDelayResult): ResumeDelayRun {
  const resumed = r.delaysMs.filter((d): d is number => d !== null)
  return {
    firstAttemptRate: r.delaysMs.length === 0 ? Number.NaN : r.firstAttempt / r.delaysMs.length,
    maxMs: resumed.length === 0 ? Number.NaN : Math.max(...resumed),
    never: r.delaysMs.length - resumed.length,
    errors: r.errors,
  }
}

/** A lab with everything started. */
interface Running {
  rttMs: number
  client: LabClient
  hosts: Hosts
  fleets: Record<Row, Fleet>
}

interface RowRuns {
  runs: FleetRun[]
  resumeDelay: ResumeDelayRun[]
}

const throughBalancer = (fleet: Fleet, count: number): ChainedClientInit => ({
  host: fleet.balancerAddress,
  port: fleet.balancerPort,
  connections: count,
  loops,
  tlsVersion: TLS_VERSION,
})

/**
 * A round nobody records: fresh processes compile their hot paths during their first connections,
 * and with a warm-up of 300 connections per row the first recorded round still ran 15% slower.
 */
async function warmUp(on: Running): Promise<void> {
  for (const row of ROWS) await on.client.chained(throughBalancer(on.fleets[row], connections))
}

/**
 * One round: every row's chained clients in turn, then the resume delay of each shared-cache row.
 * The order turns by one row each round, so that no row always runs first after the pause.
 */
async function measureRound(on: Running, round: number, into: Record<Row, RowRuns>): Promise<void> {
  const { client, hosts, fleets } = on
  const label = `RTT ${on.rttMs} ms, round ${round + 1}/${repeat}:`
  for (const row of ROWS.map((_, i) => ROWS[(i + round) % ROWS.length]!)) {
    const run = summarizeRun(await client.chained(throughBalancer(fleets[row], connections)))
    into[row].runs.push(run)
    progress(`${label} ${row}: ${describeRun(run)}`)
  }
  for (const row of SHARED) {
    const servers = fleets[row].serverPorts.map((port, i) => ({ host: hosts.servers[i]!.address, port }))
    const delay = summarizeResumeDelay(
      await client.resumeDelay({ servers, samples, tlsVersion: TLS_VERSION }),
    )
    into[row].resumeDelay.push(delay)
    progress(
      `${label} ${row}: resume delay: ${(delay.firstAttemptRate * 100).toFixed(0)}% on the first attempt, ` +
        `slowest ${delay.maxMs.toFixed(2)} ms, ${delay.never} never, ${delay.errors} errors`,
    )
  }
}

/**
 * Round trips from the client host to a server host and to the memcached host: TCP connect times
 * (SYN to SYN-ACK), as Node sees them, which adds this machine's own cost of a connect.
 */
async function measureRtt(client: LabClient, hosts: Hosts, fleets: Record<Row, Fleet>) {
  const toServer = await client.connectTimes(
    hosts.servers[1]!.address,
    fleets['server-local caches'].serverPorts[1]!,
    RTT_SAMPLES,
  )
  const toMemcached = await client.connectTimes(hosts.cache.address, MEMCACHED_PORT, RTT_SAMPLES)
  return { clientToServerMs: spread(toServer), clientToMemcachedMs: spread(toMemcached) }
}

const describeRtt = (rtt: Awaited<ReturnType<typeof measureRtt>>): string =>
  `${rtt.clientToServerMs.median.toFixed(3)} ms client -> server, ` +
  `${rtt.clientToMemcachedMs.median.toFixed(3)} ms client -> memcached (TCP connect, median of ${RTT_SAMPLES})`

/** Every row at one distance, in a lab of its own. */
async function measureDistance(rttMs: number, files: FleetFiles, daemonKey: string) {
  const lab = createNetnsLab({ hosts: Array.from({ length: 6 }, () => ({ segment: 'lan' })) })
  // The lab's own exit hook deletes the namespaces, and processes outlive their namespace: kill first.
  const killLeftovers = (): void => killLabProcesses(lab.hosts)
  process.prependOnceListener('exit', killLeftovers)
  let delay: LinkDelay | undefined
  try {
    delay = await addLinkDelay(lab.hosts, rttMs / 2, files.dir)
    progress(`RTT ${rttMs} ms (${delay.method}): starting memcached, daemons and fleets`)
    return {
      rttMs,
      linkDelay: delay.method,
      ...(await measureOnLab(rttMs, placeHosts(lab), delay, files, daemonKey)),
    }
  } finally {
    killLeftovers()
    await delay?.stop()
    lab.destroy()
    process.off('exit', killLeftovers)
  }
}

/** Starts every process, measures the round trip and the rounds, then the round trip without the delay. */
async function measureOnLab(
  rttMs: number,
  hosts: Hosts,
  delay: LinkDelay,
  files: FleetFiles,
  daemonKey: string,
) {
  const socketOf = (i: number): string => join(files.dir, `tlsmeshd-${rttMs}-${i}.sock`)
  const stops: Array<() => Promise<unknown>> = []
  try {
    const client = await startLabClient(hosts.client)
    stops.push(client.stop)
    const reachable = () =>
      client.connectTimes(hosts.cache.address, MEMCACHED_PORT, 1).then(
        () => true,
        () => false,
      )
    const memcached = await startMemcached(MEMCACHED_PORT, {
      host: hosts.cache.address,
      netns: hosts.cache.ns,
      reachable,
    })
    stops.push(async () => memcached.kill('SIGKILL'))
    const daemons = await startDaemons(hosts, daemonKey, socketOf)
    stops.push(() => Promise.all(daemons.map((d) => d.stop())))
    const fleets = await startFleets(hosts, files, socketOf)
    stops.push(() => Promise.all(Object.values(fleets).map((f) => f.stop())))
    const measuredRtt = await measureRtt(client, hosts, fleets)
    progress(`RTT ${rttMs} ms: measured ${describeRtt(measuredRtt)}`)
    const runs = Object.fromEntries(
      ROWS.map((row) => [row, { runs: [], resumeDelay: [] }]),
    ) as unknown as Record<Row, RowRuns>
    const running = { rttMs, client, hosts, fleets }
    await warmUp(running)
    for (let r = 0; r < repeat; r++) await measureRound(running, r, runs)
    const link = await delay.stop()
    const baselineRtt = await measureRtt(client, hosts, fleets)
    progress(
      `RTT ${rttMs} ms: without the emulated delay ${describeRtt(baselineRtt)}; packets left ` +
        `${link.lateMeanUs} us late on average (at worst ${link.lateMaxUs} us), ${link.dropped} dropped`,
    )
    return {
      measuredRtt,
      baselineRtt,
      link,
      rows: ROWS.map((row) => rowResult(row, runs[row])),
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
  }
}

function rowResult(row: Row, r: RowRuns) {
  const delays = r.resumeDelay
  return {
    fleet: row,
    ...spreadRuns(r.runs),
    ...(delays.length > 0
      ? {
          resumeDelay: {
            firstAttemptRate: spread(delays.map((d) => d.firstAttemptRate)),
            maxMs: spread(delays.map((d) => d.maxMs)),
            never: delays.reduce((n, d) => n + d.never, 0),
            errors: delays.reduce((n, d) => n + d.errors, 0),
          },
        }
      : {}),
  }
}

// A timed-out run (bench/run.ts) ends with SIGTERM: run the exit hooks, which clear the namespaces.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1))

const started = Date.now()
const files = createFleetFiles()
const daemonKey = join(files.dir, 'daemons.key')
await createMeshKey(daemonKey)
const distances = []
try {
  for (const rttMs of rtts) distances.push(await measureDistance(rttMs, files, daemonKey))
} finally {
  files.remove()
}
const path = writeResult(values.out, {
  connections,
  loops,
  repeat,
  samples,
  tlsVersion: TLS_VERSION,
  ladderMs: RESUME_DELAY_LADDER_MS,
  distances,
  wallSeconds: Math.round((Date.now() - started) / 1000),
})
console.log(JSON.stringify(distances, null, 2))
progress(`wrote ${path} in ${Math.round((Date.now() - started) / 1000)} s`)
process.exit(0)
