// Mesh node processes inside the namespaces of a NetnsLab: `ip netns exec NS node --import tsx
// netns-mesh-node.ts`, with an IPC channel (the channel's descriptor survives the exec). Each process
// is killed when the test process exits, whatever way it exits.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { MeshStatus } from '@tlsmesh/mesh'
import { request, stopChild } from '../../../scripts/lib/child-processes.ts'
import type { LabHost } from './netns.ts'
import type { ProbeAnswer } from './netns-mdns-probe.ts'
import type { NetnsNodeConfig } from './netns-mesh-node.ts'

const nodeScript = fileURLToPath(new URL('./netns-mesh-node.ts', import.meta.url))
const probeScript = fileURLToPath(new URL('./netns-mdns-probe.ts', import.meta.url))
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
/** The port every node listens on: each namespace has its own port space. */
export const NETNS_MESH_PORT = 7645
const MAX_OUTPUT_CHARS = 64 * 1024

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

export interface NetnsNode {
  readonly host: LabHost
  readonly peerId: string
  /** This node's address for other nodes' seeds: its lab address with /p2p/<peer id>. */
  readonly seedAddr: string
  readonly child: ChildProcess
  status(): Promise<MeshStatus>
  /** Publishes `count` fresh records; resolves with their ids (hex). */
  publish(realm: string, count: number, valueBytes?: number): Promise<string[]>
  /** How many of `ids` this node holds. */
  holds(realm: string, ids: string[]): Promise<number>
  /** Peer ids this node's discovery found, connected or not. */
  discovered(): Promise<string[]>
  /** stdout and stderr, the last 64 KiB, for failure messages. */
  output(): string
  stop(): Promise<void>
}

export type NetnsNodeOptions = Omit<NetnsNodeConfig, 'listen'> & { listen?: string[] }

export async function startNetnsNode(
  host: LabHost,
  config: NetnsNodeOptions,
  timeoutMs = 30_000,
): Promise<NetnsNode> {
  const full: NetnsNodeConfig = {
    ...config,
    listen: config.listen ?? [`/ip4/${host.address}/tcp/${NETNS_MESH_PORT}`],
  }
  const child = spawn(
    'ip',
    ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', nodeScript, JSON.stringify(full)],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  )
  children.add(child)
  child.once('exit', () => children.delete(child))
  let output = ''
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)

  const ready = await new Promise<{ peerId: string; multiaddrs: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node in ${host.ns} not ready after ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`node in ${host.ns} exited (${code}) before it was ready:\n${output}`))
    })
    child.on('message', (message: { type: string; peerId: string; multiaddrs: string[] }) => {
      if (message.type !== 'ready') return
      clearTimeout(timer)
      resolve(message)
    })
  })

  return {
    host,
    peerId: ready.peerId,
    seedAddr: `/ip4/${host.address}/tcp/${NETNS_MESH_PORT}/p2p/${ready.peerId}`,
    child,
    status: async () => (await request<{ status: MeshStatus }>(child, 'status')).status,
    publish: async (realm, count, valueBytes = 200) =>
      (
        await request<{ ids: string[] }>(
          child,
          'publish',
          { realm, count, valueBytes },
          { timeoutMs: 30_000 },
        )
      ).ids,
    holds: async (realm, ids) =>
      (await request<{ held: number }>(child, 'holds', { realm, ids }, { timeoutMs: 30_000 })).held,
    discovered: async () => (await request<{ peers: string[] }>(child, 'discovered')).peers,
    output: () => output,
    stop: () => stopChild(child),
  }
}

/** Asks the LAN of `host` for `serviceTag` over mDNS; resolves with the TXT answers heard in `listenMs`. */
export async function probeMdns(host: LabHost, serviceTag: string, listenMs = 2000): Promise<ProbeAnswer[]> {
  const { stdout } = await promisify(execFile)(
    'ip',
    [
      'netns',
      'exec',
      host.ns,
      process.execPath,
      '--import',
      'tsx',
      probeScript,
      serviceTag,
      String(listenMs),
    ],
    { cwd: repoRoot, timeout: listenMs + 20_000 },
  )
  return JSON.parse(stdout) as ProbeAnswer[]
}

/** Polls `probe` every `everyMs` until it is true; resolves with the time it took, or throws. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await probe()) return Date.now() - started
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
