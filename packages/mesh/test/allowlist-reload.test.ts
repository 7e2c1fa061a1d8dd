import { afterEach, describe, expect, it } from 'vitest'
import { createMeshNode, generateMeshKey, type MeshNode } from '../src/index.ts'

const REALM = 'a'

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const running: MeshNode[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()))
})

describe('setAllowPeers', () => {
  it('drops a peer taken off the list, keeps it out, and lets it back in when listed again', async () => {
    const meshKey = generateMeshKey()
    const a = await createMeshNode({ meshKey, realms: [REALM] })
    running.push(a)
    await a.start()
    const b = await createMeshNode({ meshKey, realms: [REALM], seeds: [a.multiaddrs()[0]!] })
    running.push(b)
    await b.start()
    const bId = b.peerId.toString()
    await waitFor('b to connect', () => a.status().peers.includes(bId))
    a.cache.set(REALM, new Uint8Array([1]), new Uint8Array([2]), 60_000)

    a.setAllowPeers([a.peerId.toString()])
    await waitFor('a to hang up on b', () => !a.status().peers.includes(bId))
    // b's own redial is refused by a's gater while it is off the list.
    await new Promise((r) => setTimeout(r, 2500))
    expect(a.status().peers).not.toContain(bId)
    // The replica is kept.
    expect(a.cache.get(REALM, new Uint8Array([1]))?.value).toEqual(new Uint8Array([2]))

    a.setAllowPeers(undefined)
    await b.connect(a.multiaddrs()[0]!)
    await waitFor('b to be let back in', () => a.status().peers.includes(bId))
  }, 30_000)
})
