import { describe, expect, it } from 'vitest'
import { createReplicaStore } from '../src/replica-store.ts'
import type { MergeOutcome, SessionRecord } from '../src/session-record.ts'
import { bytes, NOW, proof, record, tombstone } from './records.ts'

const ID = bytes('session-1')
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

/** What a reader of the replica sees of (web, session-1), tombstones included. */
function held(store: ReturnType<typeof createReplicaStore>, now = NOW) {
  const r = store.peek('web', ID, now)
  return r && { value: text(r.value), created: r.created, expires: r.expires, origin: r.origin }
}

describe('only a record of its own origin replaces a live record', () => {
  it.each<[string, SessionRecord, MergeOutcome]>([
    ['a newer value', record({ origin: 'peer-b', created: NOW + 1, value: bytes('planted') }), 'not-owner'],
    ['a newer tombstone', tombstone({ origin: 'peer-b', created: NOW + 1 }), 'not-owner'],
    ['a value that wins the tie on created', record({ origin: 'peer-z', value: bytes('x') }), 'not-owner'],
    [
      'a value that lives longer',
      record({ origin: 'peer-b', created: NOW + 1, expires: NOW + 86_400_000 }),
      'not-owner',
    ],
    ['an older value', record({ origin: 'peer-b', created: NOW - 1, value: bytes('planted') }), 'stale'],
  ])('refuses %s of another origin, and leaves the record intact', (_name, incoming, outcome) => {
    const store = createReplicaStore()
    store.merge(record(), NOW)
    const before = held(store)
    expect(store.merge(incoming, NOW)).toBe(outcome)
    expect(held(store)).toEqual(before)
    expect(text(store.get('web', ID, NOW)?.value)).toBe('secret-1')
    expect(store.stats()).toMatchObject({ entries: 1, evictions: 0 })
  })

  it("holds another origin's tombstone against a value planted under the deleted id", () => {
    const store = createReplicaStore()
    store.merge(tombstone({ created: NOW + 1 }), NOW)
    expect(store.merge(record({ origin: 'peer-b', created: NOW + 2 }), NOW)).toBe('not-owner')
    expect(store.get('web', ID, NOW)).toBeUndefined()
    expect(held(store)).toMatchObject({ origin: 'peer-a', value: undefined })
  })

  it('lets the origin itself replace and delete its record', () => {
    const store = createReplicaStore()
    store.merge(record(), NOW)
    expect(store.merge(record({ created: NOW + 1, value: bytes('v2') }), NOW)).toBe('replaced')
    expect(store.merge(tombstone({ created: NOW + 2 }), NOW)).toBe('replaced')
    expect(store.get('web', ID, NOW)).toBeUndefined()
  })

  it('lets another origin take the id once the record has expired', () => {
    const store = createReplicaStore()
    store.merge(record({ expires: NOW + 10 }), NOW)
    const taker = record({ origin: 'peer-b', created: NOW + 10, value: bytes('new owner') })
    expect(store.merge(taker, NOW + 9)).toBe('not-owner')
    expect(store.merge(taker, NOW + 10)).toBe('added')
    expect(held(store, NOW + 10)).toMatchObject({ origin: 'peer-b', value: 'new owner' })
  })

  it('keeps ids of other realms apart: the same id in another realm is not owned', () => {
    const store = createReplicaStore()
    store.merge(record(), NOW)
    expect(store.merge(record({ realm: 'mail', origin: 'peer-b' }), NOW)).toBe('added')
  })
})

describe('a contested realm', () => {
  it("asks the realm's rule with the live record, the newer one and now, and may let it win", () => {
    const asked: Array<[string, string, number]> = []
    const store = createReplicaStore({
      contested: {
        web: (existing, incoming, now) => {
          asked.push([existing.origin, incoming.origin, now])
          return true
        },
      },
    })
    store.merge(record(), NOW)
    expect(store.merge(record({ origin: 'peer-b', created: NOW + 1, value: bytes('b') }), NOW + 5)).toBe(
      'replaced',
    )
    expect(asked).toEqual([['peer-a', 'peer-b', NOW + 5]])
    expect(held(store)).toMatchObject({ origin: 'peer-b', value: 'b' })
  })

  it('refuses what the rule does not let win as a conflict, leaving the record intact', () => {
    let asked = 0
    const store = createReplicaStore({
      contested: {
        // A rule of the kind a realm passes: only one named origin may take over others' ids.
        web: (existing, incoming) => {
          asked++
          return incoming.origin === 'proposer' && existing.origin !== 'proposer'
        },
      },
    })
    expect(store.merge(record(), NOW)).toBe('added')
    expect(store.merge(record({ created: NOW + 1 }), NOW)).toBe('replaced')
    expect(store.merge(record({ origin: 'peer-b', created: NOW - 1 }), NOW)).toBe('stale')
    // Not asked: an absent id, the same origin, an older record.
    expect(asked).toBe(0)
    expect(store.merge(tombstone({ origin: 'peer-b', created: NOW + 2 }), NOW)).toBe('conflict')
    expect(held(store)).toMatchObject({ origin: 'peer-a', created: NOW + 1, value: 'secret-1' })
    expect(store.merge(record({ origin: 'proposer', created: NOW + 3 }), NOW)).toBe('replaced')
    expect(asked).toBe(2)
  })

  it('is contested only in the realms named: the others keep the owner rule', () => {
    const store = createReplicaStore({ contested: { tickets: () => true } })
    store.merge(record(), NOW)
    expect(store.merge(record({ origin: 'peer-b', created: NOW + 1 }), NOW)).toBe('not-owner')
  })
})

describe('proofs', () => {
  it('keeps the proof a record was merged with', () => {
    const store = createReplicaStore()
    const p = proof()
    store.merge(record({ proof: p }), NOW)
    expect(store.peek('web', ID, NOW)?.proof).toBe(p)
  })

  it('attachProof gives the stored version its proof, and nothing else', () => {
    const store = createReplicaStore()
    const local = record()
    store.merge(local, NOW)
    expect(store.peek('web', ID, NOW)?.proof).toBeUndefined()
    const p = proof()
    // Another version of the id (a later write, another origin's), another id, another realm: refused.
    expect(store.attachProof(record({ created: NOW + 1 }), p)).toBe(false)
    expect(store.attachProof(record({ origin: 'peer-b' }), p)).toBe(false)
    expect(store.attachProof(record({ id: bytes('session-2') }), p)).toBe(false)
    expect(store.attachProof(record({ realm: 'mail' }), p)).toBe(false)
    expect(store.peek('web', ID, NOW)?.proof).toBeUndefined()
    expect(store.attachProof(local, p)).toBe(true)
    expect(store.peek('web', ID, NOW)?.proof).toBe(p)
  })

  it('attachProof of a batch signed after the record was replaced leaves the newer version bare', () => {
    const store = createReplicaStore()
    const first = record()
    store.merge(first, NOW)
    store.merge(record({ created: NOW + 1, value: bytes('v2') }), NOW)
    expect(store.attachProof(first, proof())).toBe(false)
    expect(store.peek('web', ID, NOW)).toMatchObject({ created: NOW + 1, proof: undefined })
  })

  it('a duplicate carrying a proof lends it to a stored copy that has none', () => {
    const store = createReplicaStore()
    store.merge(record(), NOW)
    const p = proof()
    expect(store.merge(record({ proof: p }), NOW)).toBe('duplicate')
    expect(store.peek('web', ID, NOW)?.proof).toBe(p)
  })

  it('a duplicate does not replace a proof the stored copy has, and a stale record lends none', () => {
    const store = createReplicaStore()
    const first = proof('peer-a', 1)
    store.merge(record({ created: NOW + 1, proof: first }), NOW)
    expect(store.merge(record({ created: NOW + 1, proof: proof('peer-a', 2) }), NOW)).toBe('duplicate')
    expect(store.peek('web', ID, NOW)?.proof).toBe(first)

    const bare = createReplicaStore()
    bare.merge(record({ created: NOW + 1 }), NOW)
    expect(bare.merge(record({ proof: proof() }), NOW)).toBe('stale')
    expect(bare.merge(record({ origin: 'peer-b', created: NOW + 1, proof: proof('peer-b') }), NOW)).toBe(
      'not-owner',
    )
    expect(bare.peek('web', ID, NOW)?.proof).toBeUndefined()
  })
})
