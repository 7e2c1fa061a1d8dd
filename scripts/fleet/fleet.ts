import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMeshKey } from '@tlsmesh/mesh'
import { forkScript, request, stopChild } from '../lib/child-processes.ts'
import { writeSelfSignedCert } from '../lib/self-signed-cert.ts'
import type { FleetServerConfig } from './https-server.ts'

const here = fileURLToPath(new URL('.', import.meta.url))

export interface FleetFiles {
  dir: string
  certFile: string
  keyFile: string
  meshKeyFile: string
  remove(): void
}

/** A temp dir with a self-signed P-256 certificate for localhost and a fresh mesh key. */
export function createFleetFiles(): FleetFiles {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-fleet-'))
  const { certFile, keyFile } = writeSelfSignedCert(dir)
  const meshKeyFile = join(dir, 'mesh.key')
  writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
  return { dir, certFile, keyFile, meshKeyFile, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface FleetServerStatus {
  adapter: { lookups: number; hits: number; misses: number; stored: number }
  mesh: {
    peerId: string
    connectedPeers: number
    peers: string[]
    replica: { entries: number }
    realms: Record<string, { meshPeers: number; entries: number }>
    propagationMs: { samples: number; p50: number | null; p99: number | null }
    records: { published: number; stored: number }
  } | null
  tickets: { ready: boolean; current: { name: string } | null; held: number; installs: number } | null
}

export interface FleetServer {
  child: ChildProcess
  port: number
  multiaddrs: string[]
  status(): Promise<FleetServerStatus>
  stop(): Promise<void>
}

/** Starts one HTTPS server process (scripts/fleet/https-server.ts), in network namespace `netns` if given. */
export async function startFleetServer(config: FleetServerConfig, netns?: string): Promise<FleetServer> {
  const { child, ready } = await forkScript(join(here, 'https-server.ts'), [JSON.stringify(config)], {
    ...(netns !== undefined ? { netns } : {}),
  })
  return {
    child,
    port: ready.port as number,
    multiaddrs: ready.multiaddrs as string[],
    status: () => request<FleetServerStatus>(child, 'status'),
    stop: () => stopChild(child),
  }
}

/** A network namespace and the address a process listens on there (a NetnsLab host). */
export interface FleetHost {
  ns: string
  address: string
}

export interface Fleet {
  /** Where clients connect: 127.0.0.1 unless the balancer runs in a namespace of its own. */
  balancerAddress: string
  balancerPort: number
  serverPorts: number[]
  servers: FleetServer[]
  status(): Promise<FleetServerStatus[]>
  /** Resolves once every node has every other node in its gossip mesh. */
  waitForMesh(timeoutMs?: number): Promise<number>
  /** With tickets: resolves once every server holds the current and next ticket keys. */
  waitForTicketKeys(timeoutMs?: number): Promise<number>
  stop(): Promise<void>
}

export async function startFleet(init: {
  mode: FleetServerConfig['mode']
  servers: number
  files: FleetFiles
  realm?: string
  /** For mode remote: the endpoint of server i (a central memcached: the same for all). */
  memcache?: (server: number) => FleetServerConfig['memcache']
  /** Resume with TLS 1.3 tickets under scheduled ticket keys (see https-server.ts). */
  tickets?: boolean
  /** Server i runs in hosts[i], the balancer in `balancerHost`; default: every process on loopback. */
  hosts?: FleetHost[]
  balancerHost?: FleetHost
}): Promise<Fleet> {
  const realm = init.realm ?? 'demo'
  const base: FleetServerConfig = {
    mode: init.mode,
    port: 0,
    certFile: init.files.certFile,
    keyFile: init.files.keyFile,
    meshKeyFile: init.files.meshKeyFile,
    realm,
    sessionIdContext: 'tlsmesh-demo',
    tickets: init.tickets === true,
  }
  // Every node knows only the first one: the others find each other through it.
  const memcache = (i: number) => (init.memcache !== undefined ? { memcache: init.memcache(i) } : {})
  const address = (host: FleetHost | undefined): string => host?.address ?? '127.0.0.1'
  const start = (i: number, seeds: string[]): Promise<FleetServer> =>
    startFleetServer({ ...base, ...memcache(i), host: address(init.hosts?.[i]), seeds }, init.hosts?.[i]?.ns)
  const first = await start(0, [])
  const rest = await Promise.all(
    Array.from({ length: init.servers - 1 }, (_, i) => start(i + 1, first.multiaddrs)),
  )
  const servers = [first, ...rest]
  const serverPorts = servers.map((s) => s.port)
  const balancer = await forkScript(
    join(here, 'round-robin-balancer.ts'),
    [
      `${address(init.balancerHost)}:0`,
      ...serverPorts.map((port, i) => `${address(init.hosts?.[i])}:${port}`),
    ],
    { ...(init.balancerHost !== undefined ? { netns: init.balancerHost.ns } : {}) },
  )
  const all = [...servers.map((s) => s.child), balancer.child]

  const fleet: Fleet = {
    balancerAddress: address(init.balancerHost),
    balancerPort: balancer.ready.port as number,
    serverPorts,
    servers,
    status: () => Promise.all(servers.map((s) => s.status())),
    async waitForMesh(timeoutMs = 20_000) {
      const started = Date.now()
      if (init.mode !== 'mesh') return 0
      while (Date.now() - started < timeoutMs) {
        const statuses = await fleet.status()
        if (statuses.every((s) => (s.mesh?.realms[realm]?.meshPeers ?? 0) >= init.servers - 1)) {
          return Date.now() - started
        }
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`the mesh did not form within ${timeoutMs} ms`)
    },
    async waitForTicketKeys(timeoutMs = 20_000) {
      const started = Date.now()
      while (Date.now() - started < timeoutMs) {
        const statuses = await fleet.status()
        // Ready and, sharing through the mesh, on the same current key: proposals made while the
        // fleet formed have converged. Local caches: each server keeps its own key.
        const names = new Set(statuses.map((s) => s.tickets?.current?.name))
        const converged = init.mode !== 'mesh' || names.size === 1
        if (statuses.every((s) => s.tickets?.ready === true) && converged) return Date.now() - started
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`the servers did not get ticket keys within ${timeoutMs} ms`)
    },
    async stop() {
      await Promise.all(all.map(stopChild))
    },
  }
  return fleet
}
