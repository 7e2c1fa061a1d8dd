import { multiaddr } from '@multiformats/multiaddr'
import { NotOwnerError } from '@tlsmesh/store'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMeshNode, generateMeshKey, type MeshNode, realmTopic } from '../src/index.ts'
import { libp2pOf } from '../src/mesh-node.ts'
import { createSigner, type Signer, signedBatch } from './signed-records.ts'

// Real libp2p nodes on 127.0.0.1: three that share a mesh key and meet through A, and one with
// another key that must never get in.

const REALM = 'a'
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b)

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const started: MeshNode[] = []
async function startNode(meshKey: Uint8Array, seeds: string[] = [], identity?: Signer): Promise<MeshNode> {
  const node = await createMeshNode({
    meshKey,
    realms: [REALM],
    seeds,
    ...(identity !== undefined ? { privateKey: identity.privateKey } : {}),
    // Quicker mesh repair than the production default, so the test takes a few seconds.
    gossip: { heartbeatMs: 200 },
  })
  started.push(node)
  await node.start()
  return node
}

/** A's identity: the test signs a batch as A. */
let aIdentity: Signer
let a: MeshNode
let b: MeshNode
let c: MeshNode
let outsider: MeshNode

beforeAll(async () => {
  const meshKey = generateMeshKey()
  aIdentity = await createSigner()
  a = await startNode(meshKey, [], aIdentity)
  const seed = a.multiaddrs()[0]!
  expect(seed).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
  ;[b, c, outsider] = await Promise.all([
    startNode(meshKey, [seed]),
    startNode(meshKey, [seed]),
    startNode(generateMeshKey(), [seed]),
  ])
}, 10_000)

afterAll(async () => {
  await Promise.all(started.map((node) => node.stop()))
}, 10_000)

describe('a mesh of three nodes on loopback', () => {
  it('forms a full mesh in the realm from one seed', async () => {
    const nodes = { a, b, c }
    await waitFor(
      'every node to have 2 mesh peers',
      () => Object.values(nodes).every((n) => n.status().realms[REALM]?.meshPeers === 2),
      15_000,
    )
    for (const node of Object.values(nodes)) {
      const status = node.status()
      expect(status.connectedPeers).toBe(2)
      expect(status.realms[REALM]).toMatchObject({ meshPeers: 2, subscribers: 2 })
      expect(status.peers).not.toContain(outsider.peerId.toString())
    }
  }, 20_000)

  it("replicates a session set on A to B and C, and counts it in each node's status", async () => {
    const id = bytes('session-abc')
    const stored = a.cache.set(REALM, id, bytes('master-secret'), 60_000)
    expect(stored.origin).toBe(a.peerId.toString())

    await waitFor('B and C to hold the session', () =>
      [b, c].every((n) => text(n.cache.get(REALM, id)?.value) === 'master-secret'),
    )
    for (const node of [b, c]) {
      expect(node.cache.get(REALM, id)).toMatchObject({
        created: stored.created,
        expires: stored.expires,
        origin: a.peerId.toString(),
      })
      const status = node.status()
      expect(status.records.stored).toBeGreaterThanOrEqual(1)
      expect(status.records.messagesReceived).toBeGreaterThanOrEqual(1)
      expect(status.realms[REALM]?.entries).toBe(1)
      expect(status.propagationMs.samples).toBeGreaterThanOrEqual(1)
      expect(status.propagationMs.p50).not.toBeNull()
    }
    const origin = a.status()
    expect(origin.records).toMatchObject({ published: 1, messagesPublished: 1 })
    expect(origin.replica.entries).toBe(1)

    // Only its origin may delete it; a delete travels the same way.
    expect(() => b.cache.delete(REALM, id)).toThrow(expect.objectContaining({ name: NotOwnerError.name }))
    expect(a.cache.delete(REALM, id)).toBe(true)
    await waitFor('the delete to reach B and C', () =>
      [b, c].every((n) => n.cache.get(REALM, id) === undefined),
    )
  })

  it('keeps to the realms it serves: a record of another realm is neither stored nor accepted', async () => {
    expect(() => a.cache.set('b', bytes('session-x'), bytes('secret'), 60_000)).toThrow(
      expect.objectContaining({ name: 'UnknownRealmError' }),
    )
    // A batch of realm "b" sent on realm "a"'s topic: B and C reject it as being on the wrong topic.
    const rejectedBefore = b.status().records.rejected + c.status().records.rejected
    // Signed by A as it is: only the topic is wrong.
    const batch = signedBatch(aIdentity, 'b', [
      { id: bytes('session-y'), value: bytes('secret'), created: Date.now(), expires: Date.now() + 60_000 },
    ])
    await libp2pOf(a).services.pubsub.publish(realmTopic('default', REALM), batch)
    await waitFor(
      'B and C to reject the batch',
      () => b.status().records.rejected + c.status().records.rejected >= rejectedBefore + 2,
    )
    for (const node of [b, c]) {
      expect(node.cache.get('b', bytes('session-y'))).toBeUndefined()
      expect(node.counters.refused.get('wrong-topic')).toBeGreaterThanOrEqual(1)
    }
  })

  it('exports the counters as Prometheus metrics', async () => {
    const metrics = await a.registry.metrics()
    // The session and its delete.
    expect(metrics).toMatch(/^tlsmesh_mesh_records_published_total 2$/m)
    expect(metrics).toMatch(/^# TYPE tlsmesh_mesh_records_refused_total counter$/m)
    expect(metrics).toMatch(/^tlsmesh_mesh_peers 2$/m)
    // The record went down the broadcast tree to both neighbours, which see A as a tree neighbour.
    expect(metrics).toMatch(/^tlsmesh_tree_payloads_sent_total [1-9]/m)
    expect(metrics).toMatch(/^tlsmesh_tree_frames_dropped_total 0$/m)
    expect(await b.registry.metrics()).toMatch(/^tlsmesh_tree_payloads_received_total [1-9]/m)
    expect(metrics).toMatch(new RegExp(`^tlsmesh_tree_eager_peers\\{realm="${REALM}"\\} [12]$`, 'm'))
  })
})

describe('a node with another mesh key', () => {
  it('cannot connect to the mesh, and receives nothing', async () => {
    // A wrong key turns the handshake into noise that never completes: the dial gives up, as the
    // seed dial did.
    const dial = libp2pOf(outsider).dial(multiaddr(a.multiaddrs()[0]!), { signal: AbortSignal.timeout(1000) })
    await expect(dial).rejects.toThrow()
    expect(outsider.status().connectedPeers).toBe(0)
    expect(a.status().peers).not.toContain(outsider.peerId.toString())
    expect(outsider.status().replica.entries).toBe(0)
    expect(outsider.status().records.messagesReceived).toBe(0)
  })
})

describe('createMeshNode options', () => {
  it('refuses an eager-link cap that is not a whole number of at least 1, naming the option', async () => {
    for (const maxEagerPeers of [0, -1, 2.5, Number.NaN]) {
      await expect(createMeshNode({ realms: ['r'], insecureDev: true, maxEagerPeers })).rejects.toThrow(
        /maxEagerPeers/,
      )
    }
  })
})
