// The partition scenario shared by test/e2e/partition-netns.test.ts (a short partition, asserted) and
// bench/partition.ts (the 60 s partition of issue 5, measured): two halves of a fleet on two switches
// joined by one trunk; the trunk goes down, each half publishes, the trunk comes back, and we time how
// long until every node holds every record.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMeshKey, type MeshStatus } from '@tlsmesh/mesh'
import { createNetnsLab, type NetnsLab } from './netns.ts'
import { type NetnsNode, startNetnsNode, waitUntil } from './netns-fleet.ts'

export interface PartitionScenarioInit {
  nodesPerSide: number
  partitionMs: number
  /** Records published on each side during the partition. */
  recordsPerSide: number
  /** Give up waiting for convergence after this long. */
  convergeTimeoutMs: number
  realm?: string
  syncIntervalMs?: number
  log?: (line: string) => void
}

export interface NodeSnapshot {
  node: number
  side: 'a' | 'b'
  connectedPeers: number
  sync: MeshStatus['sync']
}

export interface PartitionScenarioResult {
  /** Mesh formed: every node connected to every other, ms after the last node started. */
  formMs: number
  /** Records of the other side held anywhere just before the heal (0 if the partition was real). */
  leakedAcrossPartition: number
  /** Heal -> every node holds every record; null if not within convergeTimeoutMs. */
  convergeMs: number | null
  /** Heal -> every node connected to every other again; null if not by the end. */
  reconnectMs: number | null
  /** Records held per node at the end, out of `expected`. */
  held: number[]
  expected: number
  atHeal: NodeSnapshot[]
  atEnd: NodeSnapshot[]
}

const snapshot = async (nodes: NetnsNode[], sides: Array<'a' | 'b'>): Promise<NodeSnapshot[]> =>
  Promise.all(
    nodes.map(async (node, i) => {
      const status = await node.status()
      return { node: i, side: sides[i]!, connectedPeers: status.connectedPeers, sync: status.sync }
    }),
  )

export async function runPartitionScenario(init: PartitionScenarioInit): Promise<PartitionScenarioResult> {
  const realm = init.realm ?? 'web'
  const log = init.log ?? (() => {})
  const n = init.nodesPerSide * 2
  const sides = Array.from({ length: n }, (_, i): 'a' | 'b' => (i < init.nodesPerSide ? 'a' : 'b'))
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-partition-'))
  const meshKeyFile = join(dir, 'mesh.key')
  writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
  let lab: NetnsLab | undefined
  const nodes: NetnsNode[] = []
  try {
    lab = createNetnsLab({ hosts: sides.map((segment) => ({ segment })) })
    const config = {
      meshKeyFile,
      seeds: [] as string[],
      mdns: false,
      realms: [realm],
      ...(init.syncIntervalMs !== undefined ? { syncIntervalMs: init.syncIntervalMs } : {}),
    }
    // One seed per side, as a fleet would list a few of its nodes: the first node of side a, then the
    // first of side b seeded with it, then everyone else seeded with both.
    const firstB = init.nodesPerSide
    nodes[0] = await startNetnsNode(lab.hosts[0]!, config)
    nodes[firstB] = await startNetnsNode(lab.hosts[firstB]!, { ...config, seeds: [nodes[0].seedAddr] })
    const seeds = [nodes[0].seedAddr, nodes[firstB]!.seedAddr]
    const rest = await Promise.all(
      lab.hosts.map((host, i) =>
        i === 0 || i === firstB ? undefined : startNetnsNode(host, { ...config, seeds }),
      ),
    )
    for (const [i, node] of rest.entries()) if (node !== undefined) nodes[i] = node

    const allConnected = async (): Promise<boolean> =>
      (await Promise.all(nodes.map((node) => node.status()))).every((s) => s.connectedPeers >= n - 1)
    const formMs = await waitUntil('every node connected to every other', allConnected, 30_000)
    log(`mesh formed: ${n} nodes fully connected in ${formMs} ms`)

    // Gossip works before the cut: a record from each side reaches everyone.
    const before = [...(await nodes[0]!.publish(realm, 10)), ...(await nodes[firstB]!.publish(realm, 10))]
    const holdAll = async (ids: string[]): Promise<number[]> =>
      Promise.all(nodes.map((node) => node.holds(realm, ids)))
    await waitUntil(
      'records before the partition on every node',
      async () => (await holdAll(before)).every((h) => h === before.length),
      10_000,
    )

    lab.partition()
    const cutAt = Date.now()
    log(`partitioned: side a = nodes 0..${firstB - 1}, side b = nodes ${firstB}..${n - 1}`)
    // Each side publishes from the node that is not its seed where there is one, in two rounds: one
    // right after the cut, one half way through.
    const publisherA = nodes[Math.min(1, firstB - 1)]!
    const publisherB = nodes[n - 1]!
    const half = Math.ceil(init.recordsPerSide / 2)
    const idsA = await publisherA.publish(realm, half)
    const idsB = await publisherB.publish(realm, half)
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, init.partitionMs / 2 - (Date.now() - cutAt))),
    )
    idsA.push(...(await publisherA.publish(realm, init.recordsPerSide - half)))
    idsB.push(...(await publisherB.publish(realm, init.recordsPerSide - half)))
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, init.partitionMs - (Date.now() - cutAt))))

    // The partition was real: side a holds none of side b's records, and the other way round.
    const heldA = await holdAll(idsA)
    const heldB = await holdAll(idsB)
    const leakedAcrossPartition = sides.reduce(
      (sum, side, i) => sum + (side === 'a' ? heldB[i]! : heldA[i]!),
      0,
    )
    const atHeal = await snapshot(nodes, sides)
    log(
      `before heal (${Date.now() - cutAt} ms cut): connected peers ${atHeal.map((s) => s.connectedPeers).join(', ')}; ` +
        `other side's records held: ${leakedAcrossPartition}`,
    )

    const all = [...before, ...idsA, ...idsB]
    lab.heal()
    const healedAt = Date.now()
    let convergeMs: number | null = null
    let reconnectMs: number | null = null
    let held: number[] = []
    while (Date.now() - healedAt < init.convergeTimeoutMs) {
      held = await holdAll(all)
      if (reconnectMs === null && (await allConnected())) reconnectMs = Date.now() - healedAt
      if (held.every((h) => h === all.length)) {
        convergeMs = Date.now() - healedAt
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    if (reconnectMs === null && (await allConnected())) reconnectMs = Date.now() - healedAt
    const atEnd = await snapshot(nodes, sides)
    log(
      `after heal: converged ${convergeMs === null ? 'never' : `in ${convergeMs} ms`}, ` +
        `reconnected ${reconnectMs === null ? 'never' : `in ${reconnectMs} ms`}; held ${held.join(', ')} of ${all.length}; ` +
        `syncs started ${atEnd.map((s) => s.sync.started).join(', ')}, pulled ${atEnd.map((s) => s.sync.recordsPulled).join(', ')}`,
    )
    return {
      formMs,
      leakedAcrossPartition,
      convergeMs,
      reconnectMs,
      held,
      expected: all.length,
      atHeal,
      atEnd,
    }
  } finally {
    await Promise.all(nodes.map((node) => node?.stop()))
    lab?.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}
