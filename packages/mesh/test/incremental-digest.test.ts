import { randomBytes } from 'node:crypto'
import { createReplicaStore, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IncrementalDigest } from '../src/sync/incremental-digest.ts'
import type { KeyRangeDigest } from '../src/sync/key-range.ts'
import { RealmDigest } from '../src/sync/realm-digest.ts'
import { hashesOf, syncKeyOf } from '../src/sync/sync-keys.ts'
import { numberedRecord } from './digest-fixtures.ts'

const REALM = 'web'
const NOW = 1_800_000_000_000

/** A store, and a digest of it kept from its changes alone, both on the clock `clock.now`. */
function watchedStore(maxEntriesPerRealm: number) {
  const clock = { now: NOW }
  const store = createReplicaStore({
    realms: [REALM],
    maxEntriesPerRealm,
    contested: { [REALM]: () => true },
  })
  const digest = new IncrementalDigest(() => clock.now)
  store.watch({ stored: (r) => digest.add(r), removed: (r) => digest.remove(r) })
  return { clock, store, digest }
}

/** Every range of depth 0 to `depth`, and of every depth along each of `keys`, as reconciliation reads them. */
function ranges(digest: KeyRangeDigest, depth: number, keys: bigint[]): string[] {
  const out: string[] = []
  const read = (d: number, prefix: bigint) => {
    const { fingerprint, count } = digest.range(d, prefix)
    out.push(`${d}/${prefix}: ${count} ${fingerprint}`)
  }
  for (let d = 0; d <= depth; d++) {
    for (let prefix = 0n; prefix < 16n ** BigInt(d); prefix++) read(d, prefix)
  }
  for (const key of keys) {
    for (let d = depth + 1; d <= 16; d++) read(d, key >> BigInt(64 - 4 * d))
  }
  return out
}

/** Expects `digest` to answer every query as a from-scratch digest of the store's live records does. */
function expectSameAsFromScratch(
  digest: IncrementalDigest,
  store: ReplicaStore,
  now: number,
  depth = 3,
): void {
  const reference = new RealmDigest(store.entries(REALM, now))
  const keys = [...store.entries(REALM, now)].map((r) => hashesOf(r).key)
  expect(ranges(digest, depth, keys)).toEqual(ranges(reference, depth, keys))
  for (const key of keys) {
    expect(digest.recordsWithKey(key)).toEqual(reference.recordsWithKey(key))
    const bucket = key >> 52n
    expect(digest.items(3, bucket)).toEqual(reference.items(3, bucket))
    expect(digest.items(5, key >> 44n)).toEqual(reference.items(5, key >> 44n))
  }
}

type Op =
  | { kind: 'merge'; id: number; created: number; tombstone: boolean; ttl: number; origin: string }
  | { kind: 'wait'; ms: number }
  | { kind: 'peek'; id: number }
  | { kind: 'prune' }

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('merge' as const),
      id: fc.nat(60),
      created: fc.integer({ min: -20, max: 0 }),
      tombstone: fc.boolean(),
      ttl: fc.integer({ min: 1, max: 100 }),
      origin: fc.constantFrom('peer-a', 'peer-b'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('peek' as const), id: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('prune' as const) }) },
)

function apply(store: ReplicaStore, step: Op, now: number): number {
  const id = 'id' in step ? new TextEncoder().encode(`session-${step.id}`) : new Uint8Array()
  switch (step.kind) {
    case 'wait':
      return now + step.ms
    case 'peek':
      store.peek(REALM, id, now)
      break
    case 'prune':
      store.prune(now)
      break
    case 'merge': {
      const created = now + step.created
      const record: SessionRecord = {
        realm: REALM,
        id,
        created,
        expires: now + step.ttl,
        origin: step.origin,
      }
      if (!step.tombstone) record.value = new Uint8Array(8)
      store.merge(record, now, 'local')
    }
  }
  return now
}

describe('IncrementalDigest', () => {
  it('answers every range as a digest built from scratch, after any inserts, replacements and removals', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (steps) => {
        // An entry cap below the ids used, so that merges evict too.
        const { clock, store, digest } = watchedStore(40)
        for (const step of steps) {
          clock.now = apply(store, step, clock.now)
          expect(digest.range(0, 0n).count).toBe([...store.entries(REALM, clock.now)].length)
        }
        expectSameAsFromScratch(digest, store, clock.now)
      }),
      { numRuns: 200 },
    )
  })

  it('does so at 20,000 records, several to a bucket, after half of them were replaced or expired', () => {
    const { clock, store, digest } = watchedStore(100_000)
    const record = (i: number, fields: Partial<SessionRecord> = {}) => numberedRecord(REALM, NOW, i, fields)
    for (let i = 0; i < 20_000; i++)
      store.merge(record(i, { expires: NOW + (i % 4 === 0 ? 10 : 300_000) }), NOW)
    for (let i = 1; i < 20_000; i += 4)
      store.merge(record(i, { created: NOW + 1, value: randomBytes(8) }), NOW)
    clock.now = NOW + 10
    expectSameAsFromScratch(digest, store, clock.now, 4)
    expect(digest.range(0, 0n).count).toBe(15_000)
  })

  it('reads the last range of a depth, whose end lies past every key, as the reference does', () => {
    const { store, digest } = watchedStore(100)
    // Ids whose keys start with 0xffff: about one in 65,536.
    for (let i = 0, found = 0; found < 3; i++) {
      const record = numberedRecord(REALM, NOW, i)
      if (syncKeyOf(record.id) >> 48n !== 0xffffn) continue
      store.merge(record, NOW)
      found++
    }
    store.merge(numberedRecord(REALM, NOW, -1), NOW)
    const reference = new RealmDigest(store.entries(REALM, NOW))
    for (const [depth, prefix] of [
      [4, 0xffffn],
      [2, 0xffn],
      [16, 0xffffffffffffffffn],
    ] as const) {
      expect(digest.range(depth, prefix)).toEqual(reference.range(depth, prefix))
      expect(digest.items(depth, prefix)).toEqual(reference.items(depth, prefix))
    }
    expect(digest.range(4, 0xffffn).count).toBe(3)
  })

  it('leaves out a record past its expiry that the replica still holds: no count, no item, no record', () => {
    const { clock, store, digest } = watchedStore(10)
    const id = new TextEncoder().encode('session')
    store.merge(
      { realm: REALM, id, value: new Uint8Array(8), created: NOW, expires: NOW + 10, origin: 'a' },
      NOW,
    )
    const { key } = hashesOf(store.peek(REALM, id, NOW)!)
    expect(digest.recordsWithKey(key)).toHaveLength(1)
    clock.now = NOW + 10
    expect(digest.range(0, 0n)).toEqual({ fingerprint: 0n, count: 0 })
    expect(digest.items(16, key)).toEqual([])
    expect(digest.recordsWithKey(key)).toEqual([])
    expect(store.stats().entries).toBe(1)
    // The replica's own removal later finds nothing more to take out.
    store.prune(clock.now)
    expect(digest.size).toBe(0)
  })
})
