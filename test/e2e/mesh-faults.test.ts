// Faults, with real node processes: the seed killed (kill -9) while one node or four publish, a relay
// below an origin with few eager links killed, a node frozen (SIGSTOP), also while more is published
// than could be queued for it, a node whose clock is off by minutes, and every seed down.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type MeshFleet, type NodeReport, startMeshFleet } from '../../bench/lib/mesh-fleet.ts'

const REALM = 'web'
const entries = (report: NodeReport | undefined): number => report?.mesh.realms[REALM]?.entries ?? 0

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now() - started
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

describe('mesh faults', () => {
  let fleet: MeshFleet | undefined
  let dir: string | undefined

  async function start(nodes: number, maxEagerPeers?: number): Promise<MeshFleet> {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-faults-'))
    fleet = await startMeshFleet({ nodes, dir, realms: [REALM], ...(maxEagerPeers ? { maxEagerPeers } : {}) })
    await fleet.waitForMesh(Math.min(nodes - 1, 3), REALM)
    return fleet
  }

  afterEach(async () => {
    await fleet?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    fleet = undefined
  })

  it('kill -9 of the seed while another node publishes: the rest receive everything; it comes back and catches up', async () => {
    const f = await start(4)
    let last: NodeReport[] = []
    const publishing = f.publish(1, { realm: REALM, count: 3000, ratePerSecond: 1500, valueBytes: 200 })
    await new Promise((r) => setTimeout(r, 500))
    await f.kill(0)
    await publishing
    const repairMs = await until('nodes 1, 2 and 3 to hold all 3000 records', async () => {
      const reports = await Promise.all([1, 2, 3].map((i) => f.statusOf(i)))
      last = reports
      return reports.every((r) => entries(r) >= 3000)
    }).catch((err: Error) => {
      const held = last.map((r) => `${entries(r)} (${JSON.stringify(r.mesh.broadcast)})`)
      throw new Error(`${err.message}; held: ${held.join(', ')}`)
    })
    // Repaired by the tree (GRAFTs within a second), not by the 30 s anti-entropy round.
    expect(repairMs).toBeLessThan(3000)
    // The seed restarts with an empty replica and only node 1 as its seed.
    await f.restart(0, { seeds: f.addrs[1]! })
    const ms = await until(
      'the restarted seed to catch up',
      async () => entries((await f.status())[0]) >= 3000,
    )
    expect(ms).toBeLessThan(10_000)
  })

  it('kill -9 of a relay while four nodes publish: the survivors have every record within 3 s', async () => {
    // Every node publishing makes the broadcast tree relay through the others; node 0, the seed
    // everyone dialed, relays the most. It dies mid-stream, with batches in flight through it.
    const f = await start(5)
    const publishing = [1, 2, 3, 4].map((i) =>
      f.publish(i, { realm: REALM, count: 1000, ratePerSecond: 500, valueBytes: 200 }),
    )
    await new Promise((r) => setTimeout(r, 700))
    await f.kill(0)
    await Promise.all(publishing)
    let last: NodeReport[] = []
    const ms = await until('nodes 1-4 to hold all 4000 records', async () => {
      last = await Promise.all([1, 2, 3, 4].map((i) => f.statusOf(i)))
      return last.every((r) => entries(r) >= 4000)
    }).catch((err: Error) => {
      throw new Error(`${err.message}; held: ${last.map((r) => entries(r)).join(', ')}`)
    })
    expect(ms).toBeLessThan(3000)
  })

  it('kill -9 of a relay below an origin capped at 2 eager links: the nodes below it have everything within 3 s', async () => {
    // 8 nodes that all dialed node 0: capped at 2, node 0 sheds its other links (one per 250 ms) and
    // the tree hangs below its two children, so killing one of those cuts off a whole branch.
    const f = await start(8, 2)
    const tree = (r: NodeReport) => r.mesh.broadcast!
    await f.publish(0, { realm: REALM, count: 2500, ratePerSecond: 1000, valueBytes: 200 })
    const before = tree(await f.statusOf(0))
    await f.publish(0, { realm: REALM, count: 500, ratePerSecond: 1000, valueBytes: 200 })
    const after = tree(await f.statusOf(0))
    const copiesPerBatch =
      (after.originPayloadsSent - before.originPayloadsSent) / (after.originated - before.originated)
    expect(copiesPerBatch).toBeLessThanOrEqual(2)
    const reports = await f.status()
    const eagerOf = (i: number) => reports[i]!.mesh.broadcast!.realms[REALM]!.eagerPeers
    const relay = [1, 2, 3, 4, 5, 6, 7].reduce((best, i) => (eagerOf(i) > eagerOf(best) ? i : best))
    expect(eagerOf(relay)).toBeGreaterThanOrEqual(2)
    const survivors = [1, 2, 3, 4, 5, 6, 7].filter((i) => i !== relay)
    const publishing = f.publish(0, { realm: REALM, count: 3000, ratePerSecond: 1500, valueBytes: 200 })
    await new Promise((r) => setTimeout(r, 500))
    await f.kill(relay)
    await publishing
    let last: NodeReport[] = []
    const ms = await until('every survivor to hold all 6000 records', async () => {
      last = await Promise.all(survivors.map((i) => f.statusOf(i)))
      return last.every((r) => entries(r) >= 6000)
    }).catch((err: Error) => {
      throw new Error(`${err.message}; held: ${last.map((r) => entries(r)).join(', ')}`)
    })
    expect(ms).toBeLessThan(3000)
  }, 60_000)

  it('a node frozen by SIGSTOP does not stall the others, and catches up after SIGCONT', async () => {
    const f = await start(4)
    f.signal(3, 'SIGSTOP')
    try {
      await f.publish(0, { realm: REALM, count: 1000, ratePerSecond: 1000, valueBytes: 200 })
      const ms = await until('nodes 1 and 2 to hold everything while node 3 is frozen', async () => {
        const reports = await Promise.all([1, 2].map((i) => f.statusOf(i)))
        return reports.every((r) => entries(r) >= 1000)
      })
      expect(ms).toBeLessThan(3000)
    } finally {
      f.signal(3, 'SIGCONT')
    }
    await until(
      'the thawed node to hold everything',
      async () => entries((await f.status())[3]) >= 1000,
      40_000,
    )
  }, 90_000)

  it('publishing faster than a frozen neighbour can take: frames to it are dropped and counted, and it heals', async () => {
    // ~30 MB for a neighbour that reads nothing: past the kernel's socket buffers and the 16 MiB the
    // tree queues per neighbour. Nothing may be lost silently: the drop is counted, the others get
    // everything at once, and the frozen node gets everything after it thaws.
    const f = await start(4)
    const count = 100_000
    f.signal(3, 'SIGSTOP')
    try {
      await f.publish(0, { realm: REALM, count, ratePerSecond: 20_000, valueBytes: 250 })
      await until(
        'nodes 1 and 2 to hold everything while node 3 is frozen',
        async () => (await Promise.all([1, 2].map((i) => f.statusOf(i)))).every((r) => entries(r) >= count),
        20_000,
      )
      expect((await f.statusOf(0)).mesh.broadcast!.framesDropped).toBeGreaterThan(0)
    } finally {
      f.signal(3, 'SIGCONT')
    }
    await until(
      'the thawed node to hold everything',
      async () => entries(await f.statusOf(3)) >= count,
      60_000,
    )
  }, 120_000)

  it('a node whose clock is minutes ahead neither poisons the others nor fails silently', async () => {
    const f = await start(3)
    await f.kill(2)
    await f.restart(2, { clockOffsetMs: 3 * 60_000 })
    await until('the skewed node to join', async () => ((await f.status())[2]?.mesh.connectedPeers ?? 0) >= 2)
    await new Promise((r) => setTimeout(r, 1500))
    const before = await f.status()
    await f.publish(2, { realm: REALM, count: 50, ratePerSecond: 500, valueBytes: 100 })
    await f.publish(0, { realm: REALM, count: 50, ratePerSecond: 500, valueBytes: 100 })
    await until('the others to refuse the future records', async () => {
      const reports = await f.status()
      return [0, 1].every((i) => (reports[i]!.mesh.records.refused['from-future'] ?? 0) >= 1)
    })
    const after = await f.status()
    // Node 0's and 1's replicas gained node 0's 50 records only: none of the skewed node's.
    for (const i of [0, 1]) expect(entries(after[i])).toBe(entries(before[i]) + 50)
    // The skewed node sees the others' fresh records as minutes old, and says so in its status.
    expect(after[2]!.mesh.records.clockSkewSuspected).toBeGreaterThan(0)
  })

  it('with every seed down, nodes that know each other stay meshed and a newcomer joins through a non-seed', async () => {
    const f = await start(4)
    await f.kill(0)
    await new Promise((r) => setTimeout(r, 1500))
    for (const i of [1, 2, 3]) expect((await f.statusOf(i)).mesh.realms[REALM]?.meshPeers).toBe(2)
    // A brand-new node that knows only node 1.
    await f.restart(0, { seeds: f.addrs[1]! })
    await until(
      'the newcomer to join the mesh',
      async () => ((await f.status())[0]?.mesh.realms[REALM]?.meshPeers ?? 0) >= 2,
    )
    await f.publish(2, { realm: REALM, count: 100, ratePerSecond: 1000, valueBytes: 100 })
    await until('every node, the newcomer included, to hold the new records', async () =>
      (await f.status()).every((r) => entries(r) >= 100),
    )
    for (const r of await f.status()) expect(r.mesh.realms[REALM]?.meshPeers).toBeGreaterThanOrEqual(2)
  })
})
