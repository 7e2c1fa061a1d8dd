import type { Logger } from '@tlsmesh/store'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMeshNode, generateMeshKey, type MeshNode, realmTopic } from '../src/index.ts'
import { libp2pOf } from '../src/mesh-node.ts'
import { transportWorkerEntry } from '../src/thread/worker-entry.ts'
import { createSigner, type Signer, signedBatch } from './signed-records.ts'

// Mesh nodes whose transport runs on a worker thread of their own (transportThread), beside one that
// runs it on its own thread: real libp2p nodes on 127.0.0.1, real worker threads.

const REALM = 'a'
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b)

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const meshKey = generateMeshKey()
const started: MeshNode[] = []
async function startNode(transportThread: boolean, seeds: string[] = []): Promise<MeshNode> {
  const node = await createMeshNode({
    meshKey,
    realms: [REALM],
    seeds,
    transportThread,
    gossip: { heartbeatMs: 200 },
  })
  started.push(node)
  await node.start()
  return node
}

/** A and C run their transport on a thread of their own; B does not. */
let a: MeshNode
let b: MeshNode
let c: MeshNode
let forger: Signer

beforeAll(async () => {
  forger = await createSigner()
  a = await startNode(true)
  const seed = a.multiaddrs()[0]!
  expect(seed).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
  expect(seed).toContain(a.peerId.toString())
  b = await startNode(false, [seed])
}, 20_000)

afterAll(async () => {
  await Promise.all(started.map((node) => node.stop()))
}, 20_000)

describe('a mesh node with its transport on a thread of its own', () => {
  it('replicates what its server writes, and stores what a peer publishes, with their proofs', async () => {
    await waitFor('A and B to be connected', () => a.status().connectedPeers === 1)
    const id = bytes('session-from-a')
    a.cache.set(REALM, id, bytes('secret-a'), 60_000)
    await waitFor('B to hold A’s session', () => text(b.cache.get(REALM, id)?.value) === 'secret-a')
    // Signed on A's transport thread, the proof came back to its replica: catch-up can relay it.
    await waitFor(
      'A’s copy to have its proof',
      () => a.store.peek(REALM, id, Date.now())?.proof !== undefined,
    )
    expect(b.store.peek(REALM, id, Date.now())?.proof).toEqual(a.store.peek(REALM, id, Date.now())?.proof)

    const other = bytes('session-from-b')
    b.cache.set(REALM, other, bytes('secret-b'), 60_000)
    await waitFor('A to hold B’s session', () => text(a.cache.get(REALM, other)?.value) === 'secret-b')
    await waitFor('A’s status to count both', () => {
      const { records } = a.status()
      return records.published === 1 && records.stored >= 1 && records.messagesReceived >= 1
    })
    expect(a.status().realms[REALM]).toMatchObject({ entries: 2, subscribers: 1 })
    expect(a.status().propagationMs.samples).toBeGreaterThanOrEqual(1)
    const metrics = await a.registry.metrics()
    expect(metrics).toMatch(/^tlsmesh_mesh_records_published_total 1$/m)
    expect(metrics).toMatch(/^tlsmesh_mesh_peers 1$/m)
  })

  it('catches up on joining: an empty node pulls what the others hold, through its replica side', async () => {
    for (let i = 0; i < 300; i++) a.cache.set(REALM, bytes(`bulk-${i}`), bytes(`value-${i}`), 60_000)
    await waitFor('B to hold the bulk', () => b.store.stats().entries >= 302)
    c = await startNode(true, [a.multiaddrs()[0]!])
    await waitFor('C to catch up', () => c.store.stats().entries >= 302, 20_000)
    expect(text(c.cache.get(REALM, bytes('bulk-299'))?.value)).toBe('value-299')
    await waitFor('C’s status to show its sync', () => c.status().sync.succeeded >= 1)
    expect(c.status().sync.recordsPulled).toBeGreaterThanOrEqual(1)
    // What C pulled came with its proofs: C can serve it on.
    expect(c.store.peek(REALM, bytes('bulk-0'), Date.now())?.proof).toBeDefined()
  }, 30_000)

  it('refuses a batch whose signature is not its sender’s, on the transport thread, storing nothing', async () => {
    const rejectedBefore = a.status().records.rejected
    const forged = signedBatch(forger, REALM, [
      { id: bytes('forged'), value: bytes('x'), created: Date.now(), expires: Date.now() + 60_000 },
    ])
    // B sends it as its own: the signature is another key's.
    libp2pOf(b).services.broadcast!.publish(REALM, forged)
    await libp2pOf(b)
      .services.pubsub.publish(realmTopic('default', REALM), forged)
      .catch(() => {})
    await waitFor('A to reject it', () => a.status().records.rejected > rejectedBefore)
    expect(a.cache.get(REALM, bytes('forged'))).toBeUndefined()
    expect(a.counters.refused.get('bad-signature')).toBeGreaterThanOrEqual(1)
  })

  it("writes its transport thread's log lines through the server's logger, with their bindings", async () => {
    const lines: Array<{ level: string; bindings: Record<string, unknown>; msg: string | undefined }> = []
    const capture = (bindings: Record<string, unknown>): Logger => ({
      debug: (_obj, msg) => lines.push({ level: 'debug', bindings, msg }),
      info: (_obj, msg) => lines.push({ level: 'info', bindings, msg }),
      warn: (_obj, msg) => lines.push({ level: 'warn', bindings, msg }),
      error: (_obj, msg) => lines.push({ level: 'error', bindings, msg }),
      child: (more) => capture({ ...bindings, ...more }),
    })
    const logged = await createMeshNode(
      { meshKey, realms: [REALM], seeds: [a.multiaddrs()[0]!], transportThread: true },
      { logger: capture({}) },
    )
    started.push(logged)
    await logged.start()
    expect(lines).toContainEqual({ level: 'info', bindings: { module: 'mesh' }, msg: 'mesh started' })
    // The membership log runs with libp2p, on the transport thread.
    await waitFor('a peer-joined line from the transport thread', () =>
      lines.some((line) => line.msg === 'peer joined' && line.bindings.module === 'mesh'),
    )
  })

  it('answers peers(), connect() and the allowlist through its transport thread', async () => {
    const report = await a.peers()
    expect(report.peers.map((p) => p.peerId)).toContain(b.peerId.toString())
    await expect(a.connect('/ip4/127.0.0.1/tcp/1')).rejects.toThrow()
    a.setAllowPeers([c.peerId.toString()])
    await waitFor('A to hang up on B', () => !a.status().peers.includes(b.peerId.toString()))
    a.setAllowPeers(undefined)
  })
})

describe('a transport thread that ends after start', () => {
  it('reports it once, fails every call that needs it, and keeps serving the replica', async () => {
    // The real transport, then its thread exits on its own, as after a crash.
    const entry = transportWorkerEntry()
    if (!('code' in entry)) throw new Error('the tests run from the sources')
    const failures: Error[] = []
    const node = await createMeshNode(
      { meshKey, realms: [REALM], seeds: [], transportThread: true },
      {
        transportWorker: { code: `${entry.code}.then(() => setTimeout(() => process.exit(7), 500))` },
        onFailure: (err) => failures.push(err),
      },
    )
    await node.start()
    try {
      node.cache.set(REALM, bytes('kept'), bytes('value'), 60_000)
      await waitFor('the thread to end', () => failures.length > 0, 10_000)
      expect(failures.map((err) => err.message)).toEqual(['the transport thread exited (code 7)'])
      await expect(node.peers()).rejects.toThrow('exited (code 7)')
      await expect(node.connect('/ip4/127.0.0.1/tcp/1')).rejects.toThrow('exited (code 7)')
      expect(text(node.cache.get(REALM, bytes('kept'))?.value)).toBe('value')
      expect(node.status().replica.entries).toBe(1)
    } finally {
      await node.stop()
    }
    expect(failures).toHaveLength(1)
  })
})
