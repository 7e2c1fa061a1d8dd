import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMeshKey, type MeshNodeInit, type MeshStatus } from '@tlsmesh/mesh'
import { forkScript, request, stopChild } from '../../scripts/lib/child-processes.ts'

const nodeScript = fileURLToPath(new URL('./mesh-node-process.ts', import.meta.url))

export interface NodeReport {
  mesh: MeshStatus
  cpu: NodeJS.CpuUsage
  memory: NodeJS.MemoryUsage
}

export interface MeshFleet {
  nodes: ChildProcess[]
  status(): Promise<NodeReport[]>
  publish(
    node: number,
    command: { realm: string; count: number; ratePerSecond: number; valueBytes: number },
  ): Promise<number>
  waitForMesh(minMeshPeers: number, realm: string, timeoutMs?: number): Promise<number>
  stop(): Promise<void>
}

/** N bare mesh-node processes on loopback; all but the first know only the first. */
export async function startMeshFleet(init: {
  nodes: number
  dir: string
  realms: string[]
  gossip?: MeshNodeInit['gossip']
}): Promise<MeshFleet> {
  const meshKeyFile = join(init.dir, 'mesh.key')
  writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
  const config = { meshKeyFile, realms: init.realms, gossip: init.gossip }
  const first = await forkScript(nodeScript, [JSON.stringify({ ...config, seeds: [] })])
  const seeds = first.ready.multiaddrs as string[]
  const rest = await Promise.all(
    Array.from({ length: init.nodes - 1 }, () =>
      forkScript(nodeScript, [JSON.stringify({ ...config, seeds })]),
    ),
  )
  const nodes = [first.child, ...rest.map((r) => r.child)]
  const fleet: MeshFleet = {
    nodes,
    status: () => Promise.all(nodes.map((child) => request<NodeReport>(child, 'status'))),
    async publish(node, command) {
      const reply = await request<{ elapsedMs: number }>(nodes[node]!, 'publish', command, {
        replyType: 'published',
        timeoutMs: 120_000,
      })
      return reply.elapsedMs
    },
    async waitForMesh(minMeshPeers, realm, timeoutMs = 30_000) {
      const started = Date.now()
      let degrees: number[] = []
      while (Date.now() - started < timeoutMs) {
        const reports = await fleet.status()
        degrees = reports.map((r) => r.mesh.realms[realm]?.meshPeers ?? 0)
        if (degrees.every((d) => d >= minMeshPeers)) return Date.now() - started
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(
        `mesh did not reach ${minMeshPeers} peers per node within ${timeoutMs} ms (mesh degrees: ${degrees.join(', ')})`,
      )
    },
    stop: async () => {
      await Promise.all(nodes.map((child) => stopChild(child)))
    },
  }
  return fleet
}
