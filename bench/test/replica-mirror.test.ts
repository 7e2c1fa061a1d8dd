import { MessageChannel } from 'node:worker_threads'
import { createReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { describe, expect, it } from 'vitest'
import { mergeBatch, mirrorReplica, packRecords } from '../lib/replica-mirror.ts'

const NOW = 1_800_000_000_000
const record = (n: number, origin: string, value?: Uint8Array): SessionRecord => ({
  realm: n % 2 === 0 ? 'a' : 'b',
  id: Uint8Array.of(n, n + 1, n + 2),
  ...(value !== undefined ? { value } : {}),
  created: NOW - n,
  expires: NOW + 60_000 + n,
  origin,
})

describe('replica mirror (bench/stall.ts --design split)', () => {
  it('carries records of several realms and origins, tombstones included, into another replica', () => {
    const records = [
      record(1, 'peer-one', Uint8Array.of(9, 8, 7)),
      record(2, 'peer-two', new Uint8Array(300).fill(5)),
      record(3, 'peer-one'),
    ]
    const target = createReplicaStore({ realms: ['a', 'b'] })
    expect(mergeBatch(target, packRecords(records), NOW)).toBe(3)
    for (const sent of records) {
      const held = target.peek(sent.realm, sent.id, NOW)
      expect(held).toBeDefined()
      expect(held?.origin).toBe(sent.origin)
      expect([held?.created, held?.expires]).toEqual([sent.created, sent.expires])
      expect(held?.value === undefined ? undefined : [...held.value]).toEqual(
        sent.value === undefined ? undefined : [...sent.value],
      )
    }
  })

  it('keeps two replicas alike both ways, and sends back nothing that came from the other side', async () => {
    const { port1, port2 } = new MessageChannel()
    const server = createReplicaStore({ realms: ['a', 'b'] })
    const mesh = createReplicaStore({ realms: ['a', 'b'] })
    const sources: string[] = []
    mesh.watch({ stored: (_record, source) => sources.push(source), removed: () => {} })
    const links = [
      mirrorReplica(server, port1, 'sync', () => NOW),
      mirrorReplica(mesh, port2, 'local', () => NOW),
    ]
    const posted: number[] = []
    port1.on('message', (message: { count: number }) => posted.push(message.count))
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50))
    try {
      server.merge(record(1, 'me', Uint8Array.of(1)), NOW, 'local')
      mesh.merge(record(2, 'peer', Uint8Array.of(2)), NOW, 'gossip')
      mesh.merge(record(4, 'peer', Uint8Array.of(4)), NOW, 'sync')
      await settle()
      for (const store of [server, mesh]) expect(store.stats().entries).toBe(3)
      // The server's write reached the mesh as its own (to publish); the mesh's two came in one batch.
      expect(sources).toEqual(['gossip', 'sync', 'local'])
      expect(posted).toEqual([2])
    } finally {
      for (const stop of links) stop()
      port1.close()
    }
  })
})
