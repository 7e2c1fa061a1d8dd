import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshNode, generateMeshKey, type MeshNode } from '../src/index.ts'

// A lost peer comes back on its old address with no seeds of its own: only the other side's redial
// (peer-redial.ts) can bring them together again, as after a partition, where each half keeps peers
// on its own side and no seed is dialed twice.

const REALM = 'a'

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return Date.now() - started
}

const running: MeshNode[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()))
})

describe('peer redial', () => {
  it('reconnects to a peer that was lost and reconciles with it when it comes back', async () => {
    const meshKey = generateMeshKey()
    const privateKey = await generateKeyPair('Ed25519')
    const start = async (init: { listen?: string[]; seeds?: string[] }): Promise<MeshNode> => {
      const node = await createMeshNode({ meshKey, privateKey, realms: [REALM], ...init })
      running.push(node)
      await node.start()
      return node
    }
    const a = await createMeshNode({ meshKey, realms: [REALM] })
    running.push(a)
    await a.start()
    // b comes back on the same port. A port below the kernel's ephemeral range (32768+), so that
    // tests running beside this one cannot be handed it (port 0) while b is down.
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    let b = await start({ seeds: [a.multiaddrs()[0]!], listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    const bAddr = b.multiaddrs()[0]!
    // Identified, not only connected: a learns b's listen address from identify, and a peer lost
    // before identify completes (a busy CI machine) has no address to be redialed on.
    await waitFor('a to identify b', () => a.status().realms[REALM]!.subscribers === 1, 10_000)

    await b.stop()
    running.splice(running.indexOf(b), 1)
    await waitFor('a to notice', () => a.status().connectedPeers === 0, 10_000)
    const missed = Array.from({ length: 10 }, (_, i) => new Uint8Array([i + 1, 2, 3]))
    for (const id of missed) a.cache.set(REALM, id, new Uint8Array([9]), 60_000)

    // Same identity, same address, an empty replica and no seeds.
    b = await start({ listen: [bAddr.replace(/\/p2p\/.*$/, '')] })
    const ms = await waitFor('a to redial b', () => a.status().peers.includes(b.peerId.toString()), 20_000)
    await waitFor('b to catch up', () => missed.every((id) => b.cache.get(REALM, id) !== undefined), 5_000)
    // First retry 1 s after the loss, then 2 s, 4 s, and every 5 s: b is back within the third retry
    // on a quiet machine; the bound leaves room for a loaded CI machine.
    expect(ms).toBeLessThan(15_000)
  }, 30_000)

  it('joins through a seed given by address only, and a seed that is the node itself is no connection', async () => {
    const meshKey = generateMeshKey()
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    // One name for the whole fleet (a headless service) includes the node itself: its dial to itself
    // must fail, not leave a connection that would make it look joined.
    const seeds = [`127.0.0.1:${port}`, `/dns4/localhost/tcp/${port}`]
    const a = await createMeshNode({
      meshKey,
      realms: [REALM],
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
      seeds,
    })
    running.push(a)
    await a.start()
    const b = await createMeshNode({ meshKey, realms: [REALM], seeds })
    running.push(b)
    await b.start()
    await waitFor('b to join a by address', () => b.status().peers.includes(a.peerId.toString()), 10_000)
    await waitFor('a to see b', () => a.status().peers.includes(b.peerId.toString()), 10_000)
    expect(a.status().peers).toEqual([b.peerId.toString()])
  }, 30_000)

  it('keeps dialing its seed when the seed was down at start', async () => {
    const meshKey = generateMeshKey()
    const seedKey = await generateKeyPair('Ed25519')
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    const seedAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(seedKey)}`
    const b = await createMeshNode({ meshKey, realms: [REALM], seeds: [seedAddr] })
    running.push(b)
    await b.start()
    // The dial at start fails; the seed appears later.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    expect(b.status().connectedPeers).toBe(0)
    const seed = await createMeshNode({
      meshKey,
      privateKey: seedKey,
      realms: [REALM],
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
    })
    running.push(seed)
    await seed.start()
    // The seed dialer retries within 1 s, 2 s, 4 s, 8 s (jittered) while no seed answers.
    await waitFor('b to reach its seed', () => b.status().peers.includes(seed.peerId.toString()), 20_000)
  }, 30_000)
})
