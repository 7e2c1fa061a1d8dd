// Hostile input from the mesh: a peer that holds the mesh key but sends garbage, records over the
// limits, records for the wrong realm, from the future or from a newer version, or unsigned messages,
// on gossipsub; and on the broadcast tree, announcement floods, forged origin signatures, garbage, and
// batches their origin signed that break a limit (relays pass them on; every node refuses the signer).
// The fleet (real node processes) rejects or ignores each, counts it by reason, stops listening to the
// peer, and keeps replicating; with an allowlist, other key holders cannot even connect.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { BROADCAST_PROTOCOL, realmTopic } from '@tlsmesh/mesh'
import { BroadcastKind, decodeBatch, encodeBatch, encodeBroadcastFrame, type WireRecord } from '@tlsmesh/wire'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type MeshFleet, type NodeReport, startMeshFleet } from '../../bench/lib/mesh-fleet.ts'
import { createMeshAttacker, type MeshAttacker } from './lib/mesh-attacker.ts'

const REALM = 'web'
const topic = realmTopic('default', REALM)

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** The attackers by libp2p node: each signs its own batches (as their origin). */
const attackers = new WeakMap<object, MeshAttacker>()

async function createAttacker(meshKeyFile: string, signed: boolean, key?: PrivateKey) {
  const attacker = await createMeshAttacker(meshKeyFile, { signed, ...(key !== undefined ? { key } : {}) })
  attackers.set(attacker.node, attacker)
  return attacker.node
}

/** A batch the attacker signed as its origin, as a fleet member signs its own. */
function signedBy(attacker: object, realm: string, records: WireRecord[]): Uint8Array {
  return attackers.get(attacker)!.signedBatch(realm, records)
}

/** An attacker holding the fleet's mesh key, connected to the given nodes and on the realm's topic. */
async function attackFrom(dir: string, fleet: MeshFleet, victims: number[], signed: boolean) {
  const attacker = await createAttacker(join(dir, 'mesh.key'), signed)
  for (const victim of victims) await attacker.dial(multiaddr(fleet.addrs[victim]![0]!))
  attacker.services.pubsub.subscribe(topic)
  await until(
    'the attacker to see the fleet subscribed',
    async () => attacker.services.pubsub.getSubscribers(topic).length >= victims.length,
  )
  return attacker
}

const record = (created: number, ttlMs: number) => ({
  id: crypto.getRandomValues(new Uint8Array(32)),
  value: crypto.getRandomValues(new Uint8Array(100)),
  created,
  expires: created + ttlMs,
})

const entries = (report: NodeReport): number => report.mesh.realms[REALM]?.entries ?? 0

describe('hostile peers holding the mesh key', () => {
  let dir: string
  let fleet: MeshFleet

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-hostile-'))
    // Node 1, which most attacks aim at, runs its transport on a thread of its own.
    fleet = await startMeshFleet({ nodes: 3, dir, realms: [REALM], transportThread: [1] })
    await fleet.waitForMesh(2, REALM)
  })

  afterAll(async () => {
    await fleet?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Connects as a fleet member would, until `node` takes the attacker into its tree; a stream to it. */
  async function joinTreeOf(attacker: Awaited<ReturnType<typeof createAttacker>>, node: number) {
    // Accept the node's tree link as a fleet member would, so that the node takes it as a neighbour.
    await attacker.handle(BROADCAST_PROTOCOL, () => {})
    const addr = fleet.addrs[node]![0]!
    await attacker.dial(multiaddr(addr))
    attacker.services.pubsub.subscribe(topic)
    await until(`node ${node} to take the attacker into its tree`, async () => {
      const tree = (await fleet.statusOf(node)).mesh.broadcast?.realms[REALM]
      return tree !== undefined && tree.eagerPeers + tree.lazyPeers >= 3
    })
    return lpStream(
      await attacker.dialProtocol(peerIdFromString(addr.split('/p2p/')[1]!), BROADCAST_PROTOCOL),
    )
  }

  it('rejects or ignores each bad message by reason, stops listening to the sender, keeps replicating', async () => {
    const attacker = await attackFrom(dir, fleet, [1, 2], true)
    try {
      const before = await fleet.status()
      const now = Date.now()
      const newerVersion = new Uint8Array([0x08, 0x09, 0x12, 0x03, 0x77, 0x65, 0x62])
      const signed = (realm: string, records: WireRecord[]) => signedBy(attacker, realm, records)
      // What the attacker signed, with the value changed afterwards: the signature no longer covers it.
      const tampered = decodeBatch(signed(REALM, [record(now + 5, 60_000)]))
      tampered.records[0]!.value = crypto.getRandomValues(new Uint8Array(100))
      const bad: Array<[string, Uint8Array]> = [
        ['malformed', crypto.getRandomValues(new Uint8Array(300))],
        ['ttl-too-long', signed(REALM, [record(now, 48 * 3600_000)])],
        ['wrong-topic', signed('other', [record(now, 60_000)])],
        ['malformed', new Uint8Array([0xff, 0xff, 0xff])],
        ['ttl-too-long', signed(REALM, [record(now + 1, 30 * 24 * 3600_000)])],
        ['wrong-topic', signed('other2', [record(now + 2, 60_000)])],
        ['from-future', signed(REALM, [record(now + 10 * 60_000, 60_000)])],
        ['unsupported-version', newerVersion],
        ['bad-signature', encodeBatch({ ...tampered })],
        [
          'bad-signature',
          encodeBatch({ realm: REALM, records: [record(now + 4, 60_000)], signature: new Uint8Array(64) }),
        ],
      ]
      for (const [, data] of bad) await attacker.services.pubsub.publish(topic, data)
      for (const victim of [1, 2]) {
        await until(`node ${victim} to count every bad message`, async () => {
          const refused = (await fleet.status())[victim]!.mesh.records.refused
          return (refused.malformed ?? 0) >= 2 && (refused['wrong-topic'] ?? 0) >= 2
        })
      }
      // Then, once scores are refreshed (a heartbeat), a perfectly valid record: the fleet no longer
      // listens to this peer.
      await new Promise((r) => setTimeout(r, 1500))
      const valid = signed(REALM, [record(now + 3, 60_000)])
      await attacker.services.pubsub.publish(topic, valid)
      await new Promise((r) => setTimeout(r, 1000))
      const after = await fleet.status()
      for (const victim of [1, 2]) {
        const { records } = after[victim]!.mesh
        expect(records.refused.malformed).toBeGreaterThanOrEqual(2)
        expect(records.refused['ttl-too-long']).toBeGreaterThanOrEqual(2)
        expect(records.refused['wrong-topic']).toBeGreaterThanOrEqual(2)
        expect(records.refused['bad-signature']).toBeGreaterThanOrEqual(2)
        expect(records.rejected).toBeGreaterThanOrEqual(8)
        // Nothing the attacker sent was stored: not the bad records, not the valid one after them.
        expect(entries(after[victim]!)).toBe(entries(before[victim]!))
      }

      // The fleet itself still replicates.
      await fleet.publish(0, { realm: REALM, count: 50, ratePerSecond: 1000, valueBytes: 100 })
      await until('the fleet to replicate 50 new records', async () =>
        (await fleet.status()).every((r, i) => entries(r) >= entries(after[i]!) + 50),
      )
    } finally {
      await attacker.stop()
    }
  })

  it('a flood from one peer does not starve the others', async () => {
    const attacker = await attackFrom(dir, fleet, [1], true)
    try {
      const before = await fleet.status()
      // 3,000 distinct messages as fast as the attacker can send them, while node 0 publishes 300
      // records at 300/s: node 1 (the attacker's target) must still get every one of them promptly.
      const flooding = (async () => {
        for (let i = 0; i < 3000; i++) {
          const junk = crypto.getRandomValues(new Uint8Array(512))
          await attacker.services.pubsub.publish(topic, junk).catch(() => {})
        }
      })()
      const started = Date.now()
      await fleet.publish(0, { realm: REALM, count: 300, ratePerSecond: 300, valueBytes: 100 })
      await until(
        'node 1 to hold the 300 records published during the flood',
        async () => entries(await fleet.statusOf(1)) >= entries(before[1]!) + 300,
      )
      const ms = Date.now() - started
      await flooding
      // The records took about as long as their publishing (1 s), not the flood's length.
      expect(ms).toBeLessThan(5000)
      const refused = (await fleet.statusOf(1)).mesh.records.refused
      expect(refused.malformed ?? 0).toBeGreaterThan(0)
    } finally {
      await attacker.stop()
    }
  })

  it('on the broadcast tree: bounds an IHAVE flood, counts forged signatures and garbage, refuses the sender', async () => {
    const attacker = await createAttacker(join(dir, 'mesh.key'), true)
    const victim = fleet.addrs[1]![0]!
    const victimId = peerIdFromString(victim.split('/p2p/')[1]!)
    try {
      const before = await fleet.status()
      const lp = await joinTreeOf(attacker, 1)
      // 1. Announcements of 20,480 made-up batches: node 1 awaits at most 16,384 of them.
      for (let i = 0; i < 5; i++) {
        const ids = Array.from({ length: 4096 }, () => crypto.getRandomValues(new Uint8Array(20)))
        await lp.write(encodeBroadcastFrame({ kind: BroadcastKind.IHAVE, realm: REALM, ids, hops: 0 }))
      }
      // 2. A batch claiming node 0 as its origin, signed by the attacker.
      const forged = {
        kind: BroadcastKind.GOSSIP as const,
        realm: REALM,
        origin: new TextEncoder().encode(fleet.addrs[0]![0]!.split('/p2p/')[1]!),
        data: signedBy(attacker, REALM, [record(Date.now(), 60_000)]),
        hops: 0,
      }
      await lp.write(encodeBroadcastFrame(forged))
      // 3. Two undecodable frames: three provably bad frames within a minute.
      await lp.write(crypto.getRandomValues(new Uint8Array(200)))
      await lp.write(new Uint8Array([0xff, 0xff, 0xff]))
      await until('node 1 to count them and hang up on the attacker', async () => {
        const tree = (await fleet.statusOf(1)).mesh.broadcast!
        return (
          tree.badSignatures >= 1 && tree.badFrames >= 2 && attacker.getConnections(victimId).length === 0
        )
      })
      const after = (await fleet.statusOf(1)).mesh.broadcast!
      expect(
        after.announcementsDropped - before[1]!.mesh.broadcast!.announcementsDropped,
      ).toBeGreaterThanOrEqual(5 * 4096 - 16_384)
      // It stays refused for a minute: a new connection from it does not last.
      await attacker.dial(multiaddr(victim), { signal: AbortSignal.timeout(3000) }).catch(() => {})
      await until('node 1 to drop the attacker again', async () => {
        const { peers } = (await fleet.statusOf(1)).mesh
        return !peers.includes(attacker.peerId.toString()) && attacker.getConnections(victimId).length === 0
      })
      // The forged record was not stored, and the fleet still replicates.
      await fleet.publish(0, { realm: REALM, count: 50, ratePerSecond: 1000, valueBytes: 100 })
      await until('the fleet to replicate 50 new records', async () =>
        (await fleet.status()).every((r, i) => entries(r) === entries(before[i]!) + 50),
      )
    } finally {
      await attacker.stop()
    }
  })

  it('on the broadcast tree: relays pass on a batch its origin signed before judging it; every node refuses the signer, not the relays', async () => {
    const key = await generateKeyPair('Ed25519')
    const attacker = await createAttacker(join(dir, 'mesh.key'), true, key)
    const victimId = peerIdFromString(fleet.addrs[1]![0]!.split('/p2p/')[1]!)
    const origin = new TextEncoder().encode(attacker.peerId.toString())
    try {
      const before = await fleet.status()
      const lp = await joinTreeOf(attacker, 1)
      // Three batches the attacker signed as their origin, each with a record over the TTL cap.
      for (let i = 0; i < 3; i++) {
        const data = signedBy(attacker, REALM, [record(Date.now(), 48 * 3600_000)])
        await lp.write(
          encodeBroadcastFrame({ kind: BroadcastKind.GOSSIP, realm: REALM, origin, data, hops: 0 }),
        )
      }
      const refused = (r: NodeReport) => r.mesh.records.refused['ttl-too-long'] ?? 0
      await until(
        'every node to refuse the three batches and node 1 to hang up on their signer',
        async () => {
          const now = await fleet.status()
          return (
            now.every((r, i) => refused(r) >= refused(before[i]!) + 3) &&
            attacker.getConnections(victimId).length === 0
          )
        },
      )
      // The relays are not blamed: nodes 0 and 2 still take node 1's batches.
      await fleet.publish(1, { realm: REALM, count: 50, ratePerSecond: 1000, valueBytes: 100 })
      await until('the fleet to replicate 50 new records from node 1', async () =>
        (await fleet.status()).every((r, i) => entries(r) === entries(before[i]!) + 50),
      )
      const node1 = victimId.toString()
      for (const other of [0, 2]) expect((await fleet.statusOf(other)).mesh.peers).toContain(node1)
    } finally {
      await attacker.stop()
    }
  })

  it('does not store unsigned messages', async () => {
    const attacker = await attackFrom(dir, fleet, [1], false)
    try {
      const before = await fleet.status()
      await attacker.services.pubsub.publish(topic, signedBy(attacker, REALM, [record(Date.now(), 60_000)]))
      await new Promise((r) => setTimeout(r, 1000))
      const after = await fleet.status()
      for (const i of [0, 1, 2]) expect(entries(after[i]!)).toBe(entries(before[i]!))
    } finally {
      await attacker.stop()
    }
  })
})

describe('an allowlist of peer ids', () => {
  it('keeps a key holder that is not on the list out: it cannot connect and nothing it publishes lands', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-allow-'))
    const keys = await Promise.all([0, 1, 2, 3].map(() => generateKeyPair('Ed25519')))
    const hex = keys.map((k) => Buffer.from(privateKeyToProtobuf(k)).toString('hex'))
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const allowed = keys.slice(0, 3).map((k) => peerIdFromPrivateKey(k).toString())
    const fleet = await startMeshFleet({
      nodes: 3,
      dir,
      realms: [REALM],
      privateKeysHex: hex.slice(0, 3),
      allowPeers: allowed,
    })
    let outsider: MeshFleet | undefined
    try {
      await fleet.waitForMesh(2, REALM)
      // Same mesh key, seeded with node 0, but not on the list.
      outsider = await startMeshFleet({
        nodes: 1,
        dir: mkdtempSync(join(tmpdir(), 'tlsmesh-outsider-')),
        realms: [REALM],
        meshKeyFile: join(dir, 'mesh.key'),
        privateKeysHex: [hex[3]!],
        seeds: fleet.addrs[0]!,
      })
      await new Promise((r) => setTimeout(r, 1500))
      await outsider.publish(0, { realm: REALM, count: 20, ratePerSecond: 1000, valueBytes: 100 })
      await new Promise((r) => setTimeout(r, 1500))
      // It redials its seed while alone (at jittered intervals): each attempt is cut as soon as the
      // seed learns who it is, so at most a connection in its last milliseconds shows on its side.
      await until('the outsider to hold no connection', async () => {
        const [now] = await outsider!.status()
        return now!.mesh.connectedPeers === 0
      })
      const [report] = await outsider.status()
      for (const r of await fleet.status()) {
        expect(r.mesh.peers).not.toContain(report!.mesh.peerId)
        expect(entries(r)).toBe(0)
      }
    } finally {
      await outsider?.stop()
      await fleet.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
