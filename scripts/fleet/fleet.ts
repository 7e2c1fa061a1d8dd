import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMeshKey } from '@tlsmesh/mesh'
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
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  const meshKeyFile = join(dir, 'mesh.key')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat([
      '-subj',
      '/CN=localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]),
    { stdio: 'ignore' },
  )
  writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
  return { dir, certFile, keyFile, meshKeyFile, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

interface ChildMessage {
  type: string
  port?: number
  multiaddrs?: string[]
  [key: string]: unknown
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/** Forks a TypeScript script with tsx and an IPC channel; resolves with its first "ready" message. */
export function forkScript(
  script: string,
  args: string[],
): Promise<{ child: ChildProcess; ready: ChildMessage }> {
  const child = fork(join(here, script), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void =>
      reject(new Error(`${script} exited (${code}) before it was ready`))
    child.once('exit', onExit)
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'ready') return
      child.off('exit', onExit)
      resolve({ child, ready: message })
    })
  })
}

function request<T>(child: ChildProcess, type: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} reply`)), timeoutMs)
    const onMessage = (message: ChildMessage): void => {
      if (message.type !== type) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(message as T)
    }
    child.on('message', onMessage)
    child.send({ type })
  })
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
}

export interface FleetServer {
  child: ChildProcess
  port: number
  multiaddrs: string[]
  status(): Promise<FleetServerStatus>
  stop(): Promise<void>
}

/** Starts one HTTPS server process (scripts/fleet/https-server.ts). */
export async function startFleetServer(config: FleetServerConfig): Promise<FleetServer> {
  const { child, ready } = await forkScript('https-server.ts', [JSON.stringify(config)])
  return {
    child,
    port: ready.port ?? 0,
    multiaddrs: ready.multiaddrs ?? [],
    status: () => request<FleetServerStatus>(child, 'status'),
    stop: () => stopChild(child),
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

export interface Fleet {
  balancerPort: number
  serverPorts: number[]
  servers: FleetServer[]
  status(): Promise<FleetServerStatus[]>
  /** Resolves once every node has every other node in its gossip mesh. */
  waitForMesh(timeoutMs?: number): Promise<number>
  stop(): Promise<void>
}

export async function startFleet(init: {
  mode: 'mesh' | 'local'
  servers: number
  files: FleetFiles
  realm?: string
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
  }
  // Every node knows only the first one: the others find each other through it.
  const first = await startFleetServer({ ...base, seeds: [] })
  const rest = await Promise.all(
    Array.from({ length: init.servers - 1 }, () => startFleetServer({ ...base, seeds: first.multiaddrs })),
  )
  const servers = [first, ...rest]
  const serverPorts = servers.map((s) => s.port)
  const balancer = await forkScript('round-robin-balancer.ts', ['0', ...serverPorts.map(String)])
  const all = [...servers.map((s) => s.child), balancer.child]

  const fleet: Fleet = {
    balancerPort: balancer.ready.port ?? 0,
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
    async stop() {
      await Promise.all(all.map(stopChild))
    },
  }
  return fleet
}
