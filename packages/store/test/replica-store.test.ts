import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RECORD_OVERHEAD_BYTES } from '../src/constants.ts'
import { InvalidOptionError, InvalidRealmError } from '../src/errors.ts'
import { createReplicaStore, type RemovalReason, ReplicaStore, recordSize } from '../src/replica-store.ts'
import type { SessionRecord } from '../src/session-record.ts'
import { bytes, NOW, record, tombstone } from './records.ts'

const idOf = (n: number) => bytes(`session-${n}`)

describe('expiry by injected time', () => {
  it('returns a record until its expiry and removes it lazily after', () => {
    const removed: Array<[string, RemovalReason]> = []
    const store = createReplicaStore({ onEvict: (r, reason) => removed.push([r.origin, reason]) })
    store.merge(record({ expires: NOW + 1000 }), NOW)
    expect(store.get('web', idOf(1), NOW + 999)).toBeDefined()
    expect(store.peek('web', idOf(1), NOW + 999)).toBeDefined()
    expect(store.get('web', idOf(1), NOW + 1000)).toBeUndefined()
    expect(store.stats()).toMatchObject({ entries: 0, expirations: 1, evictions: 0 })
    expect(removed).toEqual([['peer-a', 'expire']])
  })

  it('leaves expired records out of entries and peek', () => {
    const store = createReplicaStore()
    store.merge(record({ id: idOf(1), expires: NOW + 10 }), NOW)
    store.merge(record({ id: idOf(2), expires: NOW + 20 }), NOW)
    store.merge(tombstone({ id: idOf(3), expires: NOW + 20 }), NOW)
    expect([...store.entries('web', NOW + 10)].map((r) => r.id)).toEqual(
      expect.arrayContaining([idOf(2), idOf(3)]),
    )
    expect([...store.entries('web', NOW + 10)]).toHaveLength(2)
    expect(store.peek('web', idOf(1), NOW + 10)).toBeUndefined()
    expect(store.peek('web', idOf(3), NOW + 10)?.value).toBeUndefined()
  })

  it('prune drops expired records and tombstones, and keeps live tombstones', () => {
    const store = createReplicaStore()
    store.merge(record({ id: idOf(1), expires: NOW + 10 }), NOW)
    store.merge(tombstone({ id: idOf(2), expires: NOW + 10 }), NOW)
    store.merge(tombstone({ id: idOf(3), expires: NOW + 20 }), NOW)
    store.merge(record({ id: idOf(4), expires: NOW + 20 }), NOW)
    expect(store.prune(NOW + 9)).toBe(0)
    expect(store.prune(NOW + 10)).toBe(2)
    expect(store.stats()).toMatchObject({ entries: 2, expirations: 2 })
    expect(store.peek('web', idOf(3), NOW + 10)).toBeDefined()
    expect(store.prune(NOW + 20)).toBe(2)
    expect(store.stats().entries).toBe(0)
  })

  it('prune takes at most its limit, oldest expiry first, and misses nothing replaced or evicted', () => {
    const store = createReplicaStore({ maxEntriesPerRealm: 1000 })
    for (let i = 0; i < 1000; i++) store.merge(record({ id: idOf(i), expires: NOW + 5_000 + i * 10 }), NOW)
    // Replaced by a version that lives longer, and pushed out by newer records: neither may be
    // pruned (nor counted) at its old expiry.
    store.merge(record({ id: idOf(0), created: NOW + 1, expires: NOW + 60_000 }), NOW + 1)
    for (let i = 1000; i < 1010; i++)
      store.merge(record({ id: idOf(i), expires: NOW + 60_000 }), NOW, 'local')
    const evicted = store.stats().evictions
    expect(evicted).toBe(10)
    // By NOW + 5,200: ids 0-20 expired, 0 was replaced and 1-10 evicted.
    expect(store.prune(NOW + 5_200, 3)).toBe(3)
    expect(store.prune(NOW + 5_200)).toBe(7)
    expect(store.prune(NOW + 15_000)).toBe(1000 - 1 - evicted - 10)
    expect(store.stats().entries).toBe(11)
    expect(store.peek('web', idOf(0), NOW + 15_000)?.expires).toBe(NOW + 60_000)
  })

  it('prune forgets empty realms that were not configured', () => {
    const store = createReplicaStore({ maxRealms: 1 })
    store.merge(record({ realm: 'web', expires: NOW + 10 }), NOW)
    expect(store.merge(record({ realm: 'mail' }), NOW)).toBe('unknown-realm')
    store.prune(NOW + 10)
    expect(store.realms()).toEqual([])
    expect(store.merge(record({ realm: 'mail', expires: NOW + 20 }), NOW + 10)).toBe('added')
  })
})

describe('eviction', () => {
  it('evicts the least recently used record at the entry cap, and counts it', () => {
    const evicted: SessionRecord[] = []
    const store = createReplicaStore({
      maxEntriesPerRealm: 3,
      onEvict: (r, reason) => reason === 'evict' && evicted.push(r),
    })
    // Local writes: a peer's record would be refused at its origin's fair share instead (below).
    for (let n = 1; n <= 3; n++) store.merge(record({ id: idOf(n) }), NOW, 'local')
    store.get('web', idOf(1), NOW) // now 2 is the least recently used
    store.merge(record({ id: idOf(4) }), NOW, 'local')
    store.merge(record({ id: idOf(5) }), NOW, 'local')
    expect(evicted.map((r) => new TextDecoder().decode(r.id))).toEqual(['session-2', 'session-3'])
    expect(store.get('web', idOf(1), NOW)).toBeDefined()
    expect(store.stats()).toMatchObject({ entries: 3, evictions: 2, expirations: 0 })
  })

  it('evicts under the byte budget, and counts it', () => {
    const size = recordSize(record({ id: idOf(1) }))
    const store = createReplicaStore({ maxBytesPerRealm: size * 4 + Math.floor(size / 2) })
    for (let n = 1; n <= 6; n++) store.merge(record({ id: idOf(n) }), NOW, 'local')
    const stats = store.stats()
    expect(stats).toMatchObject({ entries: 4, bytes: size * 4, evictions: 2 })
    expect(store.get('web', idOf(1), NOW)).toBeUndefined()
    expect(store.get('web', idOf(6), NOW)).toBeDefined()
  })

  it('does not count replacements or expiries as evictions', () => {
    const store = createReplicaStore({ maxEntriesPerRealm: 2 })
    store.merge(record({ id: idOf(1), expires: NOW + 10 }), NOW)
    store.merge(record({ id: idOf(2) }), NOW)
    store.merge(record({ id: idOf(2), created: NOW + 1 }), NOW)
    store.merge(tombstone({ id: idOf(2), created: NOW + 2 }), NOW)
    store.prune(NOW + 10)
    expect(store.stats()).toMatchObject({ entries: 1, evictions: 0, expirations: 1 })
  })

  it('holds its budgets whatever peers and local writes send: sizes grow and shrink, versions replace, expiries go', () => {
    const maxEntriesPerRealm = 8
    const maxBytesPerRealm = 6 * (RECORD_OVERHEAD_BYTES + 400)
    const write = fc.record({
      id: fc.integer({ min: 0, max: 15 }),
      valueBytes: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 1500 })),
      origin: fc.constantFrom('peer-a', 'peer-b', 'flood'),
      source: fc.constantFrom('local' as const, 'gossip' as const, 'sync' as const),
      lifetime: fc.integer({ min: 1, max: 50 }),
      advance: fc.integer({ min: 0, max: 20 }),
    })
    fc.assert(
      fc.property(fc.array(write, { maxLength: 120 }), (writes) => {
        const evicted: SessionRecord[] = []
        const store = createReplicaStore({
          maxEntriesPerRealm,
          maxBytesPerRealm,
          onEvict: (r, reason) => reason === 'evict' && evicted.push(r),
        })
        let now = NOW
        for (const [n, w] of writes.entries()) {
          now += w.advance
          const fields = { id: idOf(w.id), origin: w.origin, created: now + n, expires: now + n + w.lifetime }
          const written =
            w.valueBytes < 0 ? tombstone(fields) : record({ ...fields, value: new Uint8Array(w.valueBytes) })
          const outcome = store.merge(written, now, w.source)
          if (outcome === 'added' || outcome === 'replaced') {
            // What went in is what is held, unless its own write evicted it: never, while it fits.
            expect(store.peek('web', written.id, now)?.created).toBe(written.created)
          }
          const held = [...store.entries('web', Number.NEGATIVE_INFINITY)]
          const stats = store.stats()
          expect(stats.entries).toBe(held.length)
          expect(stats.bytes).toBe(held.reduce((sum, r) => sum + recordSize(r), 0))
          expect(stats.entries).toBeLessThanOrEqual(maxEntriesPerRealm)
          expect(stats.bytes).toBeLessThanOrEqual(maxBytesPerRealm)
        }
        expect(store.stats().evictions).toBe(evicted.length)
      }),
      { numRuns: 200 },
    )
  })

  it('accounts id, value, origin and the fixed overhead per record', () => {
    const store = createReplicaStore()
    store.merge(record({ id: bytes('abc'), value: new Uint8Array(100), origin: 'peer-a' }), NOW)
    store.merge(tombstone({ id: bytes('de'), origin: 'p' }), NOW)
    expect(store.stats().bytes).toBe(3 + 100 + 6 + RECORD_OVERHEAD_BYTES + (2 + 1 + RECORD_OVERHEAD_BYTES))
  })
})

describe("a full realm: each origin's fair share", () => {
  const peerRecord = (origin: string, n: number) => record({ origin, id: bytes(`${origin}/${n}`) })

  it("refuses a flooding origin's new records rather than evict the other origins'", () => {
    const evicted: string[] = []
    const store = createReplicaStore({
      maxEntriesPerRealm: 6,
      onEvict: (r, reason) => reason === 'evict' && evicted.push(r.origin),
    })
    expect(store.merge(peerRecord('peer-b', 1), NOW)).toBe('added')
    expect(store.merge(peerRecord('peer-c', 1), NOW)).toBe('added')
    const outcomes = Array.from({ length: 100 }, (_, n) => store.merge(peerRecord('flood', n), NOW))
    expect(outcomes.filter((o) => o === 'added')).toHaveLength(4)
    expect(outcomes.filter((o) => o === 'over-quota')).toHaveLength(96)
    expect(store.peek('web', bytes('peer-b/1'), NOW)).toBeDefined()
    expect(store.peek('web', bytes('peer-c/1'), NOW)).toBeDefined()
    expect(evicted).toEqual([])
  })

  it('lets an origin under its share in, evicting the least recently used record', () => {
    const store = createReplicaStore({ maxEntriesPerRealm: 4 })
    for (let n = 1; n <= 4; n++) expect(store.merge(peerRecord('flood', n), NOW)).toBe('added')
    expect(store.merge(peerRecord('flood', 5), NOW)).toBe('over-quota')
    expect(store.merge(peerRecord('peer-b', 1), NOW)).toBe('added')
    expect(store.merge(peerRecord('peer-b', 2), NOW)).toBe('added')
    // Two origins: a share is 2 entries, which peer-b holds now.
    expect(store.merge(peerRecord('peer-b', 3), NOW)).toBe('over-quota')
    expect(store.peek('web', bytes('flood/1'), NOW)).toBeUndefined()
    expect(store.stats()).toMatchObject({ entries: 4, evictions: 2 })
  })

  it('still takes new versions of held records, and local writes, at the share', () => {
    const store = createReplicaStore({ maxEntriesPerRealm: 2 })
    store.merge(peerRecord('peer-a', 1), NOW)
    store.merge(peerRecord('peer-a', 2), NOW)
    expect(store.merge(record({ id: bytes('peer-a/1'), created: NOW + 1 }), NOW)).toBe('replaced')
    expect(store.merge(peerRecord('peer-a', 3), NOW)).toBe('over-quota')
    expect(store.merge(peerRecord('peer-a', 3), NOW, 'local')).toBe('added')
  })
})

describe('realm isolation', () => {
  it('keeps the same id apart in two realms', () => {
    const store = createReplicaStore()
    store.merge(record({ realm: 'web', value: bytes('web-secret') }), NOW)
    store.merge(record({ realm: 'mail', value: bytes('mail-secret'), created: NOW + 1 }), NOW)
    expect(new TextDecoder().decode(store.get('web', idOf(1), NOW)?.value)).toBe('web-secret')
    expect(new TextDecoder().decode(store.get('mail', idOf(1), NOW)?.value)).toBe('mail-secret')
    expect(store.stats().realms).toEqual({
      web: { entries: 1, bytes: expect.any(Number) },
      mail: { entries: 1, bytes: expect.any(Number) },
    })
  })

  it('never returns a record of one realm for another', () => {
    const store = createReplicaStore({ realms: ['web', 'mail'] })
    store.merge(record({ realm: 'web' }), NOW)
    expect(store.get('mail', idOf(1), NOW)).toBeUndefined()
    expect(store.peek('mail', idOf(1), NOW)).toBeUndefined()
    expect([...store.entries('mail', NOW)]).toEqual([])
    expect(store.get('other', idOf(1), NOW)).toBeUndefined()
  })

  it('refuses realms that are not configured', () => {
    const store = createReplicaStore({ realms: ['web'] })
    expect(store.merge(record({ realm: 'mail' }), NOW)).toBe('unknown-realm')
    expect(store.acceptsRealm('web')).toBe(true)
    expect(store.acceptsRealm('mail')).toBe(false)
    expect(store.realms()).toEqual(['web'])
  })

  it('refuses new realms beyond maxRealms when none are configured', () => {
    const store = createReplicaStore({ maxRealms: 2 })
    expect(store.merge(record({ realm: 'a' }), NOW)).toBe('added')
    expect(store.merge(record({ realm: 'b' }), NOW)).toBe('added')
    expect(store.merge(record({ realm: 'c' }), NOW)).toBe('unknown-realm')
    expect(store.merge(record({ realm: 'a', id: idOf(2) }), NOW)).toBe('added')
    expect(store.realms()).toEqual(['a', 'b'])
  })

  it("one realm's traffic does not evict another's records", () => {
    const store = createReplicaStore({ maxEntriesPerRealm: 2 })
    store.merge(record({ realm: 'mail' }), NOW)
    for (let n = 1; n <= 10; n++) store.merge(record({ realm: 'web', id: idOf(n) }), NOW)
    expect(store.get('mail', idOf(1), NOW)).toBeDefined()
    expect(store.stats().realms.mail?.entries).toBe(1)
  })
})

describe('options', () => {
  it('names the field of an out-of-range option', () => {
    expect(() => new ReplicaStore({ maxEntriesPerRealm: 0 })).toThrow(InvalidOptionError)
    expect(() => new ReplicaStore({ maxBytesPerRealm: 1.5 })).toThrow(/maxBytesPerRealm/)
    expect(() => new ReplicaStore({ maxClockSkewMs: -1 })).toThrow(/maxClockSkewMs/)
    expect(() => new ReplicaStore({ maxClockSkewMs: 0 })).not.toThrow()
  })

  it('refuses an invalid configured realm name', () => {
    expect(() => new ReplicaStore({ realms: ['web', 'a b'] })).toThrow(InvalidRealmError)
    expect(() => new ReplicaStore({ realms: ['x'.repeat(65)] })).toThrow(InvalidRealmError)
    expect(() => new ReplicaStore({ realms: ['A-z_0.9'] })).not.toThrow()
  })
})
