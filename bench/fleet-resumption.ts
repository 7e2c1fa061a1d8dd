// Fleet resumption: three Node HTTPS servers behind a round-robin balancer, 8 clients that reconnect
// with their previous session (TLS 1.2). Rows: server-local caches, a central real memcached,
// tlsmesh, and the limit (one server resuming from its own cache); then the same with the central
// memcached killed mid-run. Rows run interleaved, `--repeat` times, so they share the machine's noise.
//   node --import tsx bench/fleet-resumption.ts [--connections 1500] [--loops 8] [--repeat 3]
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createFleetFiles, type Fleet, startFleet } from '../scripts/fleet/fleet.ts'
import { runChainedClients } from '../scripts/fleet/resume-client.ts'
import {
  createMeshKey,
  startMeshedTlsmeshd,
  startTlsmeshd,
  type Tlsmeshd,
} from '../test/e2e/lib/tlsmeshd-fleet.ts'
import { progress, writeResult } from './lib/bench-report.ts'
import { describeRun, type FleetRun, spreadRuns, summarizeRun } from './lib/fleet-run.ts'
import { freePort, startMemcached } from './lib/memcached-process.ts'

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1500' },
    loops: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '3' },
    out: { type: 'string', default: 'fleet-resumption' },
  },
})
const connections = Number(values.connections)
const loops = Number(values.loops)
const repeat = Number(values.repeat)

async function measure(fleet: Fleet, during?: (elapsed: Promise<unknown>) => void): Promise<FleetRun> {
  const pending = runChainedClients({
    host: '127.0.0.1',
    port: fleet.balancerPort,
    connections,
    loops,
    tlsVersion: 'TLSv1.2',
  })
  during?.(pending)
  return summarizeRun(await pending)
}

const files = createFleetFiles()
const memcachedPort = await freePort()
let memcached: ChildProcess = await startMemcached(memcachedPort)
const central = () => ({ host: '127.0.0.1', port: memcachedPort })

progress(
  'starting fleets: local caches, central memcached, tlsmesh (embedded and local daemons), single server',
)
// tlsmesh as a daemon beside each server (the deployment for H2O, Apache and Node cluster): each
// server talks to its own tlsmeshd over a unix socket.
const daemonKey = join(files.dir, 'daemons.key')
await createMeshKey(daemonKey)
const socketOf = (i: number): string => join(files.dir, `tlsmeshd-${i}.sock`)
const daemons: Tlsmeshd[] = await startMeshedTlsmeshd(3, {
  meshKeyFile: daemonKey,
  realm: 'default',
  memcacheSocket: socketOf,
})
const fleets: Record<string, Fleet> = {
  'server-local caches': await startFleet({ mode: 'local', servers: 3, files }),
  'central memcached': await startFleet({ mode: 'remote', servers: 3, files, memcache: central }),
  tlsmesh: await startFleet({ mode: 'mesh', servers: 3, files }),
  'tlsmesh (local daemons)': await startFleet({
    mode: 'remote',
    servers: 3,
    files,
    memcache: (i) => ({ socketPath: socketOf(i) }),
  }),
  'single server (limit)': await startFleet({ mode: 'local', servers: 1, files }),
}
await fleets.tlsmesh!.waitForMesh()

const runs: Record<string, FleetRun[]> = {}
const addRun = (name: string, run: FleetRun): void => {
  runs[name] = [...(runs[name] ?? []), run]
}
try {
  for (let r = 0; r < repeat; r++) {
    for (const [name, fleet] of Object.entries(fleets)) {
      const run = await measure(fleet)
      addRun(name, run)
      progress(`${name} run ${r + 1}/${repeat}: ${describeRun(run)}`)
    }
  }
  // Faults: the central memcached dies a third of the way into the run.
  for (let r = 0; r < repeat; r++) {
    const name = 'central memcached, killed mid-run'
    const run = await measure(fleets['central memcached']!, () => {
      setTimeout(() => memcached.kill('SIGKILL'), (connections / 1000) * 1000 * 0.33)
    })
    addRun(name, run)
    progress(
      `${name} run ${r + 1}/${repeat}: ${(run.resumptionRate * 100).toFixed(1)}% resumed, p99 ${run.handshakeP99Ms.toFixed(1)} ms, ${run.errors} errors`,
    )
    memcached = await startMemcached(memcachedPort)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  // Faults: one server's tlsmeshd dies (kill -9) a third of the way into the run, then comes back.
  for (let r = 0; r < repeat; r++) {
    const name = 'tlsmesh (local daemons), one killed mid-run'
    const run = await measure(fleets['tlsmesh (local daemons)']!, () => {
      setTimeout(() => daemons[0]!.process.child.kill('SIGKILL'), (connections / 1000) * 1000 * 0.33)
    })
    addRun(name, run)
    progress(
      `${name} run ${r + 1}/${repeat}: ${(run.resumptionRate * 100).toFixed(1)}% resumed, p99 ${run.handshakeP99Ms.toFixed(1)} ms, ${run.errors} errors`,
    )
    daemons[0] = await startTlsmeshd({
      name: 'tlsmeshd-1',
      meshKeyFile: daemonKey,
      realm: 'default',
      seeds: [daemons[1]!.multiaddr],
      memcacheSocket: socketOf(0),
    })
    await new Promise((resolve) => setTimeout(resolve, 1500))
  }
} finally {
  await Promise.all(Object.values(fleets).map((fleet) => fleet.stop()))
  await Promise.all(daemons.map((daemon) => daemon.stop()))
  memcached.kill('SIGKILL')
  files.remove()
}

const rows = Object.entries(runs).map(([name, list]) => ({ fleet: name, ...spreadRuns(list) }))
const path = writeResult(values.out, { connections, loops, repeat, tlsVersion: 'TLSv1.2', rows })
console.log(JSON.stringify(rows, null, 2))
progress(`wrote ${path}`)
process.exit(0)
