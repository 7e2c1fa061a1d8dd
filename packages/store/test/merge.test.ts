import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_ID_BYTES, MAX_ORIGIN_LENGTH } from '../src/constants.ts'
import {
  compareVersions,
  createReplicaStore,
  payloadBytes,
  type ReplicaStoreInit,
  recordSize,
} from '../src/replica-store.ts'
import type { MergeOutcome, SessionRecord } from '../src/session-record.ts'
import { plainRecord, StoredRecord } from '../src/stored-record.ts'
import { bytes, NOW, record, tombstone } from './records.ts'

const decode = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

describe('merge order', () => {
  it('adds, then lets a newer record replace and an older one go stale', () => {
    const store = createReplicaStore()
    expect(store.merge(record({ value: bytes('v1') }), NOW)).toBe('added')
    expect(store.merge(record({ value: bytes('v2'), created: NOW + 1 }), NOW)).toBe('replaced')
    expect(store.merge(record({ value: bytes('v0'), created: NOW - 1 }), NOW)).toBe('stale')
    expect(decode(store.get('web', bytes('session-1'), NOW)?.value)).toBe('v2')
  })

  it('breaks a tie on created by the greater origin, where another origin may replace a record', () => {
    // The order still decides between origins in a realm whose records several nodes compete for.
    const store = createReplicaStore({ contested: { web: () => true } })
    expect(store.merge(record({ origin: 'peer-b', value: bytes('b') }), NOW)).toBe('added')
    expect(store.merge(record({ origin: 'peer-a', value: bytes('a') }), NOW)).toBe('stale')
    expect(store.merge(record({ origin: 'peer-c', value: bytes('c') }), NOW)).toBe('replaced')
    expect(decode(store.get('web', bytes('session-1'), NOW)?.value)).toBe('c')
  })

  it('calls the same created and origin a duplicate, whatever else differs', () => {
    const store = createReplicaStore()
    store.merge(record({ value: bytes('first') }), NOW)
    expect(store.merge(record({ value: bytes('second'), expires: NOW + 1000 }), NOW)).toBe('duplicate')
    expect(decode(store.get('web', bytes('session-1'), NOW)?.value)).toBe('first')
  })

  it('lets a tombstone win over an older value, and hides the value', () => {
    const store = createReplicaStore()
    store.merge(record(), NOW)
    expect(store.merge(tombstone({ created: NOW + 1 }), NOW)).toBe('replaced')
    expect(store.get('web', bytes('session-1'), NOW)).toBeUndefined()
    const peeked = store.peek('web', bytes('session-1'), NOW)
    expect(peeked?.created).toBe(NOW + 1)
    expect(peeked?.value).toBeUndefined()
    // The older value arriving again (a late copy, a sync) does not come back.
    expect(store.merge(record(), NOW)).toBe('stale')
    expect(store.get('web', bytes('session-1'), NOW)).toBeUndefined()
  })

  it('lets a newer value win over a tombstone', () => {
    const store = createReplicaStore()
    store.merge(tombstone({ created: NOW + 1 }), NOW)
    expect(store.merge(record({ created: NOW + 2, value: bytes('again') }), NOW)).toBe('replaced')
    expect(decode(store.get('web', bytes('session-1'), NOW)?.value)).toBe('again')
  })

  it('treats an expired record in the replica as absent', () => {
    const store = createReplicaStore()
    store.merge(record({ created: NOW, expires: NOW + 10 }), NOW)
    const older = record({ created: NOW - 5, expires: NOW + 60_000, value: bytes('older') })
    expect(store.merge(older, NOW + 10)).toBe('added')
    expect(decode(store.get('web', bytes('session-1'), NOW + 10)?.value)).toBe('older')
    expect(store.stats().expirations).toBe(1)
  })

  it('copies the record, so the sender may reuse its buffers', () => {
    const store = createReplicaStore()
    const incoming = record({ value: bytes('original') })
    store.merge(incoming, NOW)
    incoming.value?.fill(0)
    incoming.id.fill(0)
    expect(decode(store.get('web', bytes('session-1'), NOW)?.value)).toBe('original')
  })

  it('hands out its copy with every field, a tombstone without a value, and a plain copy of it on request', () => {
    const store = createReplicaStore()
    const live = record({ value: bytes('value') })
    const gone = record({ id: bytes('session-2'), value: undefined })
    store.merge(live, NOW)
    store.merge(gone, NOW)
    const stored = store.peek('web', live.id, NOW)!
    expect(stored).toBeInstanceOf(StoredRecord)
    expect({ ...plainRecord(stored), proof: undefined }).toEqual({ ...live, proof: undefined })
    expect(recordSize(stored)).toBe(recordSize(live))
    const tombstone = store.peek('web', gone.id, NOW)!
    expect(tombstone.value).toBeUndefined()
    expect(decode(tombstone.id)).toBe('session-2')
    expect(recordSize(tombstone)).toBe(recordSize(gone))
    expect(payloadBytes(stored)).toBe(live.id.byteLength + live.value!.byteLength)
    expect(payloadBytes(tombstone)).toBe(gone.id.byteLength)
    // Only its proof is an own property: what spreading it keeps.
    expect(Object.keys({ ...stored })).toEqual(['proof'])
    expect(Object.keys(plainRecord(stored))).toEqual(
      expect.arrayContaining(['realm', 'id', 'value', 'created', 'expires', 'origin', 'proof']),
    )
  })

  it('gives back every time it was made with, to the millisecond', () => {
    const times = [0, 1, 2 ** 23 - 1, 2 ** 23, 2 ** 23 + 1, NOW, NOW + 123, 2 ** 53 - 1, -1, -(2 ** 23) - 1]
    // Lifetimes past a small integer (2^31 ms) too: a ticket-key realm may allow long ones.
    const lifetimes = [0, 1, 86_400_123, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 7]
    for (const created of times) {
      for (const lifetime of lifetimes) {
        const expires = Math.min(created + lifetime, 2 ** 53 - 1)
        const stored = new StoredRecord(record({ created, expires }))
        expect([stored.created, stored.expires]).toEqual([created, expires])
      }
    }
  })

  it('hands out a copy of the id: a caller that writes to it changes nothing stored', () => {
    const store = createReplicaStore()
    store.merge(record({ value: bytes('value') }), NOW)
    const stored = store.peek('web', bytes('session-1'), NOW)!
    stored.id.fill(0)
    expect(decode(stored.id)).toBe('session-1')
    expect(store.get('web', bytes('session-1'), NOW)).toBe(stored)
    expect(store.get('web', new Uint8Array(9), NOW)).toBeUndefined()
  })

  it('gives the records of one origin in one realm the same realm and origin, from any copy of the strings', () => {
    const store = createReplicaStore()
    for (let i = 0; i < 3; i++) {
      // A string of its own each time.
      const origin = ['peer', 'a'].join('-')
      store.merge(record({ id: bytes(`session-${i}`), origin }), NOW)
    }
    const held = [...store.entries('web', NOW)]
    expect(held.map((r) => [r.realm, r.origin])).toEqual([
      ['web', 'peer-a'],
      ['web', 'peer-a'],
      ['web', 'peer-a'],
    ])
    expect(store.stats().realms.web).toEqual({
      entries: 3,
      bytes: held.reduce((sum, r) => sum + recordSize(r), 0),
    })
  })
})

/** Every outcome of merge, with a store and a record that produce it: a new outcome must get a case. */
const outcomeCases: Record<
  MergeOutcome,
  { init?: ReplicaStoreInit; before?: SessionRecord; record: SessionRecord }
> = {
  added: { record: record() },
  replaced: { before: record(), record: record({ created: NOW + 1 }) },
  duplicate: { before: record(), record: record() },
  stale: { before: record({ created: NOW + 1 }), record: record() },
  expired: { record: record({ created: NOW - 2000, expires: NOW - 1000 }) },
  'ttl-too-long': { init: { maxTtlMs: 60_000 }, record: record({ expires: NOW + 60_001 }) },
  'from-future': {
    init: { maxClockSkewMs: 1000 },
    record: record({ created: NOW + 1001, expires: NOW + 300_000 }),
  },
  'too-large': { init: { maxValueBytes: 16 }, record: record({ value: new Uint8Array(17) }) },
  'unknown-realm': { init: { realms: ['mail'] }, record: record() },
  'not-owner': { before: record({ origin: 'peer-b' }), record: record({ created: NOW + 1 }) },
  conflict: {
    init: { contested: { web: () => false } },
    before: record({ origin: 'peer-b' }),
    record: record({ created: NOW + 1 }),
  },
  'over-quota': {
    init: { maxEntriesPerRealm: 1 },
    before: record(),
    record: record({ id: bytes('session-2') }),
  },
  invalid: { record: record({ id: new Uint8Array(0) }) },
}

describe('merge outcomes', () => {
  for (const [outcome, { init, before, record: incoming }] of Object.entries(outcomeCases)) {
    it(outcome, () => {
      const store = createReplicaStore(init)
      if (before !== undefined) store.merge(before, NOW)
      expect(store.merge(incoming, NOW)).toBe(outcome)
    })
  }

  it('accepts the limits themselves', () => {
    const store = createReplicaStore({ maxValueBytes: 16, maxTtlMs: 60_000, maxClockSkewMs: 1000 })
    const atLimits = record({
      id: new Uint8Array(MAX_ID_BYTES).fill(1),
      value: new Uint8Array(16),
      created: NOW + 1000,
      expires: NOW + 61_000,
      origin: 'o'.repeat(MAX_ORIGIN_LENGTH),
    })
    expect(store.merge(atLimits, NOW)).toBe('added')
  })

  it.each<[string, Partial<SessionRecord>, MergeOutcome]>([
    ['an id over 250 bytes', { id: new Uint8Array(MAX_ID_BYTES + 1) }, 'too-large'],
    ['an empty origin', { origin: '' }, 'invalid'],
    ['an origin over the limit', { origin: 'o'.repeat(MAX_ORIGIN_LENGTH + 1) }, 'invalid'],
    ['a fractional time', { created: NOW + 0.5 }, 'invalid'],
    ['a NaN time', { expires: Number.NaN }, 'invalid'],
    ['expiry before creation', { created: NOW + 500, expires: NOW + 400 }, 'invalid'],
    ['expiry at now', { created: NOW - 1, expires: NOW }, 'expired'],
    ['an invalid realm name', { realm: 'web/1' }, 'unknown-realm'],
    ['an empty realm name', { realm: '' }, 'unknown-realm'],
    ['a realm name over 64 characters', { realm: 'r'.repeat(65) }, 'unknown-realm'],
  ])('refuses %s', (_name, overrides, outcome) => {
    const store = createReplicaStore()
    expect(store.merge(record(overrides), NOW)).toBe(outcome)
    expect(store.stats().entries).toBe(0)
  })

  it('refuses a record larger than the whole realm budget, and keeps the existing one', () => {
    const store = createReplicaStore({ maxBytesPerRealm: 1024 })
    store.merge(record(), NOW)
    expect(store.merge(record({ created: NOW + 1, value: new Uint8Array(1024) }), NOW)).toBe('too-large')
    expect(store.get('web', bytes('session-1'), NOW)).toBeDefined()
  })

  it('does not create a realm for a refused record', () => {
    const store = createReplicaStore()
    store.merge(record({ realm: 'mail', expires: NOW }), NOW)
    expect(store.realms()).toEqual([])
  })
})

/** A replica's contents, in a form that does not depend on insertion or recency order. */
function snapshot(records: Iterable<SessionRecord>): string[] {
  return [...records]
    .map((r) => JSON.stringify([r.realm, [...r.id], r.value && [...r.value], r.created, r.expires, r.origin]))
    .sort()
}

describe('convergence', () => {
  // Small domains so that ids collide, created ties, tombstones meet values and some records are refused.
  // lru-cache preallocates `max` slots per realm: keep the many short-lived stores small (and fast).
  const small = { maxEntriesPerRealm: 64 }
  // The version order alone, as in a realm whose records several origins may replace (ticket keys).
  const competing: ReplicaStoreInit = { ...small, contested: { web: () => true, mail: () => true } }
  const origins = ['peer-a', 'peer-b', 'peer-c']
  const recordArb = fc
    .record({
      realm: fc.constantFrom('web', 'mail'),
      id: fc.integer({ min: 0, max: 3 }),
      created: fc.integer({ min: -3, max: 3 }),
      origin: fc.integer({ min: 0, max: origins.length - 1 }),
    })
    .map(({ realm, id, created, origin }): SessionRecord => {
      // Content is a function of the version (realm, id, created, origin), as with honest origins:
      // a lifetime of 1-9 ms around NOW (some records expired), every third version a tombstone.
      const version = (created + 3) * 7 + origin * 3 + id
      const base = {
        realm,
        id: Uint8Array.of(id),
        created: NOW + created,
        expires: NOW + created + 1 + (version % 9),
        origin: origins[origin]!,
      }
      return version % 3 === 0 ? base : { ...base, value: bytes(`${realm}/${id}/${created}/${origin}`) }
    })
  const setAndOrder = fc
    .array(recordArb, { maxLength: 40 })
    .chain((records) =>
      fc.tuple(
        fc.constant(records),
        fc.shuffledSubarray(records, { minLength: records.length, maxLength: records.length }),
      ),
    )

  /** Merges `records` in order into a new store; its whole replica, as a snapshot. */
  const replicaOf = (records: SessionRecord[], init: ReplicaStoreInit): string[] => {
    const store = createReplicaStore(init)
    for (const r of records) store.merge(r, NOW)
    return snapshot([...store.entries('web', NOW), ...store.entries('mail', NOW)])
  }

  it('reaches the same replica from any order of the same records', () => {
    fc.assert(
      fc.property(setAndOrder, ([records, shuffled]) => {
        expect(replicaOf(shuffled, competing)).toEqual(replicaOf(records, competing))
      }),
    )
  })

  it('under the owner rule, reaches the same replica from any order when each id has one origin', () => {
    // What an honest fleet writes: a TLS session id is random, so only its origin ever writes it.
    const ownerOf = (r: SessionRecord): string => origins[(r.id[0]! + r.realm.length) % origins.length]!
    const owned = (r: SessionRecord): boolean => r.origin === ownerOf(r)
    fc.assert(
      fc.property(setAndOrder, ([records, shuffled]) => {
        expect(replicaOf(shuffled.filter(owned), small)).toEqual(replicaOf(records.filter(owned), small))
      }),
    )
  })

  /** The model: for each id, what is held after the unexpired records in order, `wins` deciding. */
  const modelOf = (records: SessionRecord[], wins: (r: SessionRecord, held: SessionRecord) => boolean) => {
    const expected = new Map<string, SessionRecord>()
    for (const r of records) {
      if (r.expires <= NOW) continue
      const key = `${r.realm}/${r.id[0]}`
      const held = expected.get(key)
      if (held === undefined || wins(r, held)) expected.set(key, r)
    }
    return snapshot(expected.values())
  }

  it('under the owner rule, keeps each id with the origin whose live record came first, at its newest', () => {
    const sameOriginNewer = (r: SessionRecord, held: SessionRecord) =>
      r.origin === held.origin && compareVersions(r, held) > 0
    fc.assert(
      fc.property(setAndOrder, ([records]) => {
        expect(replicaOf(records, small)).toEqual(modelOf(records, sameOriginNewer))
      }),
    )
  })

  it('holds, for each id, the greatest (created, origin) among the unexpired records', () => {
    const greater = (r: SessionRecord, best: SessionRecord) =>
      r.created > best.created || (r.created === best.created && r.origin > best.origin)
    fc.assert(
      fc.property(setAndOrder, ([records]) => {
        expect(replicaOf(records, competing)).toEqual(modelOf(records, greater))
      }),
    )
  })

  it.each([
    ['the version order', competing, /^(duplicate|stale|expired)$/],
    ['the owner rule', small, /^(duplicate|stale|expired|not-owner)$/],
  ])('is idempotent under %s: merging everything twice changes nothing', (_rule, init, unchanged) => {
    fc.assert(
      fc.property(setAndOrder, ([records, shuffled]) => {
        const store = createReplicaStore(init)
        for (const r of records) store.merge(r, NOW)
        const once = snapshot([...store.entries('web', NOW), ...store.entries('mail', NOW)])
        for (const r of shuffled) expect(store.merge(r, NOW)).toMatch(unchanged)
        expect(snapshot([...store.entries('web', NOW), ...store.entries('mail', NOW)])).toEqual(once)
      }),
    )
  })
})
