import { createReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { describe, expect, it } from 'vitest'
import { mergeBatch, packRecords, startReplicaFeed } from '../lib/replica-feed.ts'

const NOW = 1_800_000_000_000
const record = (n: number, origin: string, value?: Uint8Array): SessionRecord => ({
  realm: n % 2 === 0 ? 'a' : 'b',
  id: Uint8Array.of(n, n + 1, n + 2),
  ...(value !== undefined ? { value } : {}),
  created: NOW - n,
  expires: NOW + 60_000 + n,
  origin,
})

describe('replica feed (bench/stall.ts --design split)', () => {
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

  it('posts what a store stores, once per turn, and nothing for a duplicate', async () => {
    const source = createReplicaStore({ realms: ['a', 'b'] })
    const batches: number[] = []
    const stop = startReplicaFeed(source, (batch) => batches.push(batch.count))
    source.merge(record(1, 'o', Uint8Array.of(1)), NOW, 'gossip')
    source.merge(record(2, 'o', Uint8Array.of(2)), NOW, 'sync')
    source.merge(record(2, 'o', Uint8Array.of(2)), NOW, 'sync')
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toEqual([2])
    stop()
    source.merge(record(4, 'o', Uint8Array.of(4)), NOW, 'gossip')
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toEqual([2])
  })
})
