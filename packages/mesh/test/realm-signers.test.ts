import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMeshNode, generateMeshKey, type MeshNode } from '../src/index.ts'
import { createSigner, type Signer } from './signed-records.ts'

// Real libp2p nodes on 127.0.0.1 that take records of the key realm only from one signer (the
// ticket keys' allowed proposer): a member outside the list writes one anyway, and nobody stores it,
// neither by gossip nor by catch-up, while its sessions in the other realm replicate as usual.

const SESSIONS = 'web'
const KEYS = 'web.tickets'
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const started: MeshNode[] = []
let meshKey: Uint8Array
let proposer: Signer

async function startNode(seeds: string[], identity?: Signer): Promise<MeshNode> {
  const node = await createMeshNode({
    meshKey,
    realms: [SESSIONS, KEYS],
    seeds,
    realmSigners: { [KEYS]: [proposer.origin] },
    ...(identity !== undefined ? { privateKey: identity.privateKey } : {}),
    gossip: { heartbeatMs: 200 },
  })
  started.push(node)
  await node.start()
  return node
}

beforeAll(async () => {
  meshKey = generateMeshKey()
  proposer = await createSigner()
})

afterAll(async () => {
  await Promise.all(started.map((node) => node.stop()))
}, 10_000)

describe('records of a realm only some members may sign', () => {
  it('are refused from any other member, by gossip and by catch-up', async () => {
    const p = await startNode([], proposer)
    const other = await startNode([p.multiaddrs()[0]!])
    await waitFor('the two to mesh', () => p.status().realms[SESSIONS]?.meshPeers === 1, 15_000)

    other.cache.set(KEYS, bytes('period-1'), bytes('a key nobody asked for'), 60_000)
    other.cache.set(SESSIONS, bytes('session-1'), bytes('secret'), 60_000)
    p.cache.set(KEYS, bytes('period-2'), bytes("the proposer's key"), 60_000)
    await waitFor(
      'the session to reach the proposer',
      () => p.cache.get(SESSIONS, bytes('session-1')) !== undefined,
    )
    await waitFor(
      "the proposer's key to reach the other",
      () => other.cache.get(KEYS, bytes('period-2')) !== undefined,
    )
    expect(p.cache.get(KEYS, bytes('period-1'))).toBeUndefined()
    expect(p.status().records.refused['origin-not-allowed']).toBeGreaterThanOrEqual(1)

    // A third node catches up from the one that holds its own (unlisted) key record.
    const late = await startNode([other.multiaddrs()[0]!])
    await waitFor(
      'the late node to catch up',
      () => late.cache.get(KEYS, bytes('period-2')) !== undefined,
      15_000,
    )
    await waitFor(
      'the late node to hold the session',
      () => late.cache.get(SESSIONS, bytes('session-1')) !== undefined,
    )
    expect(late.cache.get(KEYS, bytes('period-1'))).toBeUndefined()
  }, 30_000)
})
