import { randomBytes } from 'node:crypto'
import { createReplicaStore, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { decodeSyncMessage, encodeSyncMessage, type SyncMessage } from '@tlsmesh/wire'
import { describe, expect, it } from 'vitest'
import { RealmDigest } from '../src/sync/realm-digest.ts'
import { answerQuery, answerRecords, reconcile } from '../src/sync/set-reconciliation.ts'

const REALM = 'web'
const NOW = 1_800_000_000_000

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    realm: REALM,
    id: randomBytes(32),
    value: randomBytes(200),
    created: NOW - 1000,
    expires: NOW + 300_000,
    origin: 'QmOriginA',
    ...overrides,
  }
}

function side(store: ReplicaStore) {
  return {
    realm: REALM,
    digest: new RealmDigest(store.entries(REALM, NOW)),
    merge: (r: SessionRecord) => store.merge(r, NOW),
  }
}

/** Runs a reconciliation of `a` (initiator) with `b` through the real codec; returns the bytes exchanged. */
async function sync(a: ReplicaStore, b: ReplicaStore): Promise<{ bytes: number; rounds: number }> {
  const responder = side(b)
  let bytes = 0
  const result = await reconcile(side(a), async (message: SyncMessage) => {
    const request = encodeSyncMessage(message)
    bytes += request.byteLength
    const decoded = decodeSyncMessage(request)
    const reply = encodeSyncMessage(
      decoded.kind === 'QUERY' ? answerQuery(responder, decoded) : answerRecords(responder, decoded),
    )
    bytes += reply.byteLength
    return decodeSyncMessage(reply)
  })
  return { bytes, rounds: result.rounds }
}

function fingerprintOf(store: ReplicaStore): bigint {
  const digest = new RealmDigest(store.entries(REALM, NOW))
  return digest.fingerprint(0, digest.size)
}

function stores(): [ReplicaStore, ReplicaStore] {
  const init = { realms: [REALM], maxEntriesPerRealm: 200_000, maxBytesPerRealm: 1 << 30 }
  return [createReplicaStore(init), createReplicaStore(init)]
}

describe('set reconciliation', () => {
  it('equal replicas agree in one round of a few bytes', async () => {
    const [a, b] = stores()
    for (let i = 0; i < 1000; i++) {
      const r = record()
      a.merge(r, NOW)
      b.merge(r, NOW)
    }
    const { bytes, rounds } = await sync(a, b)
    expect(rounds).toBe(1)
    expect(bytes).toBeLessThan(100)
  })

  it('two replicas that differ both ways converge: missing records, newer versions, tombstones', async () => {
    const [a, b] = stores()
    const shared = Array.from({ length: 2000 }, () => record())
    for (const r of shared) {
      a.merge(r, NOW)
      b.merge(r, NOW)
    }
    const onlyA = Array.from({ length: 30 }, () => record({ origin: 'QmOriginA' }))
    const onlyB = Array.from({ length: 40 }, () => record({ origin: 'QmOriginB' }))
    for (const r of onlyA) a.merge(r, NOW)
    for (const r of onlyB) b.merge(r, NOW)
    // B holds a newer version of 10 shared records, A a tombstone for 5 others.
    for (const r of shared.slice(0, 10))
      b.merge({ ...r, created: r.created + 1, value: randomBytes(100) }, NOW)
    for (const r of shared.slice(10, 15)) {
      const { value: _dropped, ...rest } = r
      a.merge({ ...rest, created: r.created + 1 }, NOW)
    }

    await sync(a, b)

    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
    for (const r of [...onlyA, ...onlyB]) {
      expect(Buffer.from(a.get(REALM, r.id, NOW)?.value ?? [])).toEqual(r.value)
      expect(Buffer.from(b.get(REALM, r.id, NOW)?.value ?? [])).toEqual(r.value)
    }
    for (const r of shared.slice(0, 10)) expect(a.get(REALM, r.id, NOW)?.created).toBe(r.created + 1)
    for (const r of shared.slice(10, 15)) {
      expect(b.get(REALM, r.id, NOW)).toBeUndefined()
      expect(b.peek(REALM, r.id, NOW)).toBeDefined()
    }
  })

  it('a digest taken after a record changed sees the change (hashes are kept per stored version)', () => {
    const store = createReplicaStore({ realms: [REALM] })
    const first = record()
    for (let i = 0; i < 50; i++) store.merge(record(), NOW)
    store.merge(first, NOW)
    const before = new RealmDigest(store.entries(REALM, NOW))
    expect(new RealmDigest(store.entries(REALM, NOW)).fingerprint(0, before.size)).toBe(
      before.fingerprint(0, before.size),
    )
    // A newer version of one record: a new stored object, so new hashes.
    expect(store.merge({ ...first, created: first.created + 1 }, NOW)).toBe('replaced')
    const after = new RealmDigest(store.entries(REALM, NOW))
    expect(after.size).toBe(before.size)
    expect(after.fingerprint(0, before.size)).not.toBe(before.fingerprint(0, before.size))
  })

  it('an empty replica pulls everything from a full one', async () => {
    const [a, b] = stores()
    const records = Array.from({ length: 5000 }, () => record())
    for (const r of records) b.merge(r, NOW)
    await sync(a, b)
    expect(a.stats().entries).toBe(5000)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
  })

  it('exchanges bytes in proportion to the difference, not to the replica', async () => {
    const [a, b] = stores()
    let fullCopyBytes = 0
    for (let i = 0; i < 20_000; i++) {
      const r = record()
      a.merge(r, NOW)
      b.merge(r, NOW)
      fullCopyBytes += 32 + 200 + 30
    }
    for (let i = 0; i < 20; i++) b.merge(record(), NOW)
    const { bytes } = await sync(a, b)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
    expect(bytes / fullCopyBytes).toBeLessThan(0.05)
  })
})
