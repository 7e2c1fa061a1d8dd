import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMeshKey, type MeshNodeInit, type MeshStatus } from '@tlsmesh/mesh'
import { forkScript, request, stopChild } from '../../scripts/lib/child-processes.ts'
import type { MeshNodeConfig } from './mesh-node-process.ts'

const nodeScript = fileURLToPath(new URL('./mesh-node-process.ts', import.meta.url))
const splitScript = fileURLToPath(new URL('./split-node-process.ts', import.meta.url))

export interface NodeReport {
  /** Null for a push-baseline node. */
  mesh: MeshStatus
  received: number
  connections: number
  cpu: NodeJS.CpuUsage
  memory: NodeJS.MemoryUsage
  bytes: { sent: number; received: number; byProtocol: Record<string, number> }
}

/** `pick` of every node's report, added up. */
export const sum = (reports: NodeReport[], pick: (r: NodeReport) => number): number =>
  reports.reduce((total, r) => total + pick(r), 0)

/** A node's CPU time so far, user and system, in ms. */
export const cpuMs = (r: NodeReport): number => (r.cpu.user + r.cpu.system) / 1000

export interface Arrivals {
  /** [id prefix, arrival ms] per record received. */
  arrivals: Array<[string, number]>
  /** [id prefix, created ms] per record published by this node. */
  published: Array<[string, number]>
}

export interface MeshFleet {
  nodes: ChildProcess[]
  /** Listen addresses of each node, with /p2p/<id>. */
  addrs: string[][]
  /** SIGKILLs node i. */
  kill(node: number): Promise<void>
  /** Starts a fresh process (empty replica) in slot i, seeded with node 0 (or node 1 if i is 0). */
  restart(node: number, options?: { seeds?: string[]; clockOffsetMs?: number }): Promise<void>
  /** Sends a signal (SIGSTOP, SIGCONT...) to node i. */
  signal(node: number, signal: NodeJS.Signals): void
  status(): Promise<NodeReport[]>
  statusOf(node: number): Promise<NodeReport>
  arrivals(realm: string): Promise<Arrivals[]>
  publish(
    node: number,
    command: { realm: string; count: number; ratePerSecond: number; valueBytes: number; burst?: number },
  ): Promise<number>
  waitForMesh(minMeshPeers: number, realm: string, timeoutMs?: number): Promise<number>
  stop(): Promise<void>
}

/**
 * One mesh-node process with a configuration of its own (a bench whose nodes play different parts);
 * `execArgv` goes to its Node (a heap size, say). Resolves once it listens.
 */
export async function startMeshNode(
  config: MeshNodeConfig,
  options: { execArgv?: string[] } = {},
): Promise<{
  child: ChildProcess
  addrs: string[]
  memcachePort: number | undefined
  tlsPort: number | undefined
}> {
  const script = config.split === true ? splitScript : nodeScript
  const { child, ready } = await forkScript(script, [JSON.stringify(config)], options)
  return {
    child,
    addrs: ready.multiaddrs as string[],
    memcachePort: ready.memcachePort as number | undefined,
    tlsPort: ready.tlsPort as number | undefined,
  }
}

/** N bare mesh-node processes on loopback; all but the first know only the first. */
export async function startMeshFleet(init: {
  nodes: number
  dir: string
  realms: string[]
  gossip?: MeshNodeInit['gossip']
  mode?: 'gossip' | 'push'
  /** Per-node identities (protobuf hex) and an allowlist shared by all. */
  privateKeysHex?: string[]
  allowPeers?: string[]
  /** A mesh key file to use instead of a fresh one. */
  meshKeyFile?: string
  /** Seeds for the first node (the others are seeded with the first). */
  seeds?: string[]
  dissemination?: MeshNodeInit['dissemination']
  maxEagerPeers?: number
  /** The nodes (by index) whose transport runs on a thread of its own. */
  transportThread?: number[]
}): Promise<MeshFleet> {
  const meshKeyFile = init.meshKeyFile ?? join(init.dir, 'mesh.key')
  if (init.meshKeyFile === undefined) writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
  const config = {
    meshKeyFile,
    realms: init.realms,
    gossip: init.gossip,
    mode: init.mode ?? 'gossip',
    allowPeers: init.allowPeers,
    dissemination: init.dissemination,
    maxEagerPeers: init.maxEagerPeers,
  }
  const identity = (i: number) => ({
    ...(init.privateKeysHex?.[i] !== undefined ? { privateKeyHex: init.privateKeysHex[i] } : {}),
    ...(init.transportThread?.includes(i) === true ? { transportThread: true } : {}),
  })
  const first = await forkScript(nodeScript, [
    JSON.stringify({ ...config, ...identity(0), seeds: init.seeds ?? [] }),
  ])
  const seeds = first.ready.multiaddrs as string[]
  const rest = await Promise.all(
    Array.from({ length: init.nodes - 1 }, (_, i) =>
      forkScript(nodeScript, [JSON.stringify({ ...config, ...identity(i + 1), seeds })]),
    ),
  )
  const nodes = [first.child, ...rest.map((r) => r.child)]
  const addrs = [seeds, ...rest.map((r) => r.ready.multiaddrs as string[])]
  if (init.mode === 'push') {
    // Full mesh: every node opens a push stream to every other; one node at a time, so that each
    // pair shares the connection the first of them dialed.
    for (const [i, child] of nodes.entries()) {
      const others = addrs.filter((_, j) => j !== i).map((a) => a[0]!)
      await request(child, 'connect', { addrs: others }, { timeoutMs: 60_000 })
    }
  }
  const fleet: MeshFleet = {
    nodes,
    addrs,
    async kill(node) {
      const child = nodes[node]!
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
    signal(node, signal) {
      nodes[node]!.kill(signal)
    },
    async restart(node, options = {}) {
      const seeds = options.seeds ?? (node === 0 ? addrs[1]! : addrs[0]!)
      const started = await forkScript(nodeScript, [
        JSON.stringify({ ...config, ...identity(node), seeds, clockOffsetMs: options.clockOffsetMs ?? 0 }),
      ])
      nodes[node] = started.child
      addrs[node] = started.ready.multiaddrs as string[]
    },
    status: () => Promise.all(nodes.map((child) => request<NodeReport>(child, 'status'))),
    statusOf: (node) => request<NodeReport>(nodes[node]!, 'status'),
    arrivals: (realm) =>
      Promise.all(
        nodes.map((child) => request<Arrivals>(child, 'arrivals', { realm }, { timeoutMs: 30_000 })),
      ),
    async publish(node, command) {
      const reply = await request<{ elapsedMs: number }>(nodes[node]!, 'publish', command, {
        replyType: 'published',
        timeoutMs: 120_000,
      })
      return reply.elapsedMs
    },
    async waitForMesh(minMeshPeers, realm, timeoutMs = 30_000) {
      if (init.mode === 'push') return 0
      const started = Date.now()
      let degrees: number[] = []
      let connections: number[] = []
      while (Date.now() - started < timeoutMs) {
        const reports = await fleet.status()
        degrees = reports.map((r) => r.mesh.realms[realm]?.meshPeers ?? 0)
        connections = reports.map((r) => r.connections)
        if (degrees.every((d) => d >= minMeshPeers)) return Date.now() - started
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(
        `mesh did not reach ${minMeshPeers} peers per node within ${timeoutMs} ms (mesh degrees: ${degrees.join(', ')}; connections: ${connections.join(', ')})`,
      )
    },
    stop: async () => {
      await Promise.all(nodes.map((child) => stopChild(child)))
    },
  }
  return fleet
}
