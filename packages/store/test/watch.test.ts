import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ChangeReason,
  createReplicaStore,
  type ReplicaStore,
  type ReplicaStoreInit,
  recordSize,
} from '../src/replica-store.ts'
import type { SessionRecord } from '../src/session-record.ts'
import { bytes, NOW, record, tombstone } from './records.ts'

type Change = ['stored', string, number] | ['removed', string, number, ChangeReason]

/** A store whose changes are logged as [kind, id, created(, reason)], in the order reported. */
function watched(init: ReplicaStoreInit = {}): { store: ReplicaStore; log: Change[]; stop: () => void } {
  const store = createReplicaStore(init)
  const log: Change[] = []
  const text = (r: SessionRecord) => new TextDecoder().decode(r.id)
  const stop = store.watch({
    stored: (r) => log.push(['stored', text(r), r.created]),
    removed: (r, reason) => log.push(['removed', text(r), r.created, reason]),
  })
  return { store, log, stop }
}

const at = (n: number, fields: Partial<SessionRecord> = {}) => record({ id: bytes(`s${n}`), ...fields })

describe('ReplicaStore.watch: every path that changes a realm reports it', () => {
  it('a new record: stored', () => {
    const { store, log } = watched()
    expect(store.merge(at(1), NOW)).toBe('added')
    expect(log).toEqual([['stored', 's1', NOW]])
  })

  it('a newer version, a tombstone: the old one removed (replace), then the new one stored', () => {
    const { store, log } = watched()
    store.merge(at(1), NOW)
    store.merge(at(1, { created: NOW + 1 }), NOW)
    store.merge(tombstone({ id: bytes('s1'), created: NOW + 2 }), NOW)
    expect(log.slice(1)).toEqual([
      ['removed', 's1', NOW, 'replace'],
      ['stored', 's1', NOW + 1],
      ['removed', 's1', NOW + 1, 'replace'],
      ['stored', 's1', NOW + 2],
    ])
  })

  it('the entry cap: the least recently used one removed (evict) before the newcomer is stored', () => {
    const { store, log } = watched({ maxEntriesPerRealm: 2 })
    for (let n = 1; n <= 3; n++) store.merge(at(n), NOW, 'local')
    expect(log.slice(2)).toEqual([
      ['removed', 's1', NOW, 'evict'],
      ['stored', 's3', NOW],
    ])
  })

  it('the byte budget: as many removed (evict) as make room, then the newcomer stored', () => {
    const size = recordSize(at(1))
    const { store, log } = watched({ maxBytesPerRealm: size * 3 })
    for (let n = 1; n <= 3; n++) store.merge(at(n), NOW, 'local')
    store.merge(at(4, { value: new Uint8Array(size) }), NOW, 'local')
    expect(log.slice(3)).toEqual([
      ['removed', 's1', NOW, 'evict'],
      ['removed', 's2', NOW, 'evict'],
      ['stored', 's4', NOW],
    ])
  })

  it('a replacement that also evicts: both removals, then the new version', () => {
    const size = recordSize(at(1))
    const { store, log } = watched({ maxBytesPerRealm: size * 2 })
    store.merge(at(1), NOW, 'local')
    store.merge(at(2), NOW, 'local')
    store.merge(at(2, { created: NOW + 1, value: new Uint8Array(size / 2) }), NOW, 'local')
    expect(log.slice(2)).toEqual([
      ['removed', 's2', NOW, 'replace'],
      ['removed', 's1', NOW, 'evict'],
      ['stored', 's2', NOW + 1],
    ])
  })

  it.each<[string, (store: ReplicaStore) => void]>([
    ['get', (store) => store.get('web', bytes('s1'), NOW + 10)],
    ['peek', (store) => store.peek('web', bytes('s1'), NOW + 10)],
    ['prune', (store) => store.prune(NOW + 10)],
  ])('expiry found by %s: removed (expire)', (_path, find) => {
    const { store, log } = watched()
    store.merge(at(1, { expires: NOW + 10 }), NOW)
    find(store)
    expect(log.slice(1)).toEqual([['removed', 's1', NOW, 'expire']])
  })

  it('a record merged over an expired one: the expired one removed (expire), then the newcomer stored', () => {
    const { store, log } = watched()
    store.merge(at(1, { expires: NOW + 10 }), NOW)
    expect(store.merge(at(1, { created: NOW - 5 }), NOW + 10)).toBe('added')
    expect(log.slice(1)).toEqual([
      ['removed', 's1', NOW, 'expire'],
      ['stored', 's1', NOW - 5],
    ])
  })

  it('reports nothing for what changes no content: refusals, duplicates, reads, proofs', () => {
    const { store, log } = watched({ maxEntriesPerRealm: 1, realms: ['web'] })
    const held = at(1)
    store.merge(held, NOW)
    log.length = 0
    const outcomes = [
      store.merge(held, NOW),
      store.merge(at(1, { created: NOW - 1 }), NOW),
      store.merge(at(1, { created: NOW + 1, origin: 'peer-b' }), NOW),
      store.merge(at(2, { created: NOW - 10, expires: NOW }), NOW),
      store.merge(at(2), NOW),
      store.merge(at(2, { realm: 'mail' }), NOW),
    ]
    expect(outcomes).toEqual(['duplicate', 'stale', 'not-owner', 'expired', 'over-quota', 'unknown-realm'])
    store.get('web', held.id, NOW)
    store.attachProof(held, { origin: 'peer-a', signature: new Uint8Array(64), digests: new Uint8Array(16) })
    expect(store.prune(NOW)).toBe(0)
    expect(log).toEqual([])
  })

  it('stops reporting once unwatched, and keeps onEvict to evictions and expiries', () => {
    const evicted: Array<[string, string]> = []
    const { store, log, stop } = watched({
      maxEntriesPerRealm: 1,
      onEvict: (r, reason) => evicted.push([new TextDecoder().decode(r.id), reason]),
    })
    store.merge(at(1), NOW, 'local')
    store.merge(at(1, { created: NOW + 1 }), NOW, 'local')
    store.merge(at(2, { expires: NOW + 10 }), NOW, 'local')
    stop()
    store.prune(NOW + 10)
    expect(log).toHaveLength(5)
    expect(evicted).toEqual([
      ['s1', 'evict'],
      ['s2', 'expire'],
    ])
  })
})

/** What one step of the property below does to the store. */
type Op =
  | { kind: 'merge'; id: number; realm: string; origin: string; age: number; ttl: number; size: number }
  | { kind: 'delete'; id: number; realm: string; origin: string }
  | { kind: 'wait'; ms: number }
  | { kind: 'read'; id: number; realm: string; peek: boolean }
  | { kind: 'prune' }

const realm = fc.constantFrom('web', 'keys')
const origin = fc.constantFrom('peer-a', 'peer-b')
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('merge' as const),
    id: fc.nat(7),
    realm,
    origin,
    age: fc.nat(20),
    ttl: fc.integer({ min: 1, max: 200 }),
    size: fc.nat(300),
  }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.nat(7), realm, origin }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.nat(25) }),
  fc.record({ kind: fc.constant('read' as const), id: fc.nat(7), realm, peek: fc.boolean() }),
  fc.record({ kind: fc.constant('prune' as const) }),
)

/** Runs one step at `now`; returns the time after it. */
function apply(store: ReplicaStore, step: Op, now: number): number {
  switch (step.kind) {
    case 'wait':
      return now + step.ms
    case 'prune':
      store.prune(now)
      break
    case 'read':
      if (step.peek) store.peek(step.realm, bytes(`s${step.id}`), now)
      else store.get(step.realm, bytes(`s${step.id}`), now)
      break
    case 'merge': {
      const { realm, origin, age, ttl, size } = step
      const fields = { realm, origin, id: bytes(`s${step.id}`), created: now - age, expires: now + ttl }
      // Large ones as local writes: those evict where a peer's would be over its quota.
      store.merge(record({ ...fields, value: new Uint8Array(size) }), now, size > 150 ? 'local' : 'gossip')
      break
    }
    case 'delete': {
      const { realm, origin } = step
      store.merge(
        tombstone({ realm, origin, id: bytes(`s${step.id}`), created: now, expires: now + 30 }),
        now,
      )
    }
  }
  return now
}

describe('ReplicaStore.watch, property', () => {
  it('a mirror kept from the changes alone always holds exactly the stored records', () => {
    const size = recordSize(record({ value: new Uint8Array(150) }))
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (steps) => {
        // Small caps so that merges evict by count and by bytes; a contested realm so that another
        // origin's record replaces a live one.
        const store = createReplicaStore({
          maxEntriesPerRealm: 4,
          maxBytesPerRealm: size * 3,
          contested: { keys: () => true },
        })
        const mirror = new Set<SessionRecord>()
        store.watch({
          stored: (r) => {
            // Each stored version comes once, after the removal of the one it replaced.
            expect(mirror.has(r)).toBe(false)
            expect([...mirror].some((m) => m.realm === r.realm && m.id.join() === r.id.join())).toBe(false)
            mirror.add(r)
          },
          removed: (r) => expect(mirror.delete(r)).toBe(true),
        })
        let now = NOW
        for (const step of steps) {
          now = apply(store, step, now)
          // Expired records count until the store removes them: entries(realm, 0) lists them all.
          const held = new Set(['web', 'keys'].flatMap((name) => [...store.entries(name, 0)]))
          expect(mirror).toEqual(held)
        }
      }),
      { numRuns: 300 },
    )
  })
})
