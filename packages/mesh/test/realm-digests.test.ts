import { createReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { describe, expect, it } from 'vitest'
import { RealmDigest } from '../src/sync/realm-digest.ts'
import { RealmDigests } from '../src/sync/realm-digests.ts'
import { numberedRecord } from './digest-fixtures.ts'

const REALM = 'web'
const NOW = 1_800_000_000_000

const record = (i: number, fields: Partial<SessionRecord> = {}) => numberedRecord(REALM, NOW, i, fields)

/** A store holding `n` records, a quarter of them expiring at NOW + 10, and its digests (not started). */
function setup(n: number) {
  const clock = { now: NOW }
  const store = createReplicaStore({ realms: [REALM, 'api'], maxEntriesPerRealm: 100_000 })
  for (let i = 0; i < n; i++) store.merge(record(i, { expires: NOW + (i % 4 === 0 ? 10 : 300_000) }), NOW)
  const digests = new RealmDigests([REALM, 'api'], { store, now: () => clock.now }, { sliceMs: 0 })
  return { clock, store, digests }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('RealmDigests', () => {
  it('adds what the replica held at start in slices, handing the event loop back meanwhile', async () => {
    const { store, digests } = setup(5000)
    let ranMeanwhile = false
    digests.start()
    setImmediate(() => {
      ranMeanwhile = true
    })
    const digest = await digests.of(REALM)
    expect(ranMeanwhile).toBe(true)
    expect(digest.range(1, 7n)).toEqual(new RealmDigest(store.entries(REALM, NOW)).range(1, 7n))
    expect(digest.range(0, 0n).count).toBe(5000)
    expect((await digests.of('api')).range(0, 0n).count).toBe(0)
    digests.stop()
  })

  it('ends up as the replica is when records are replaced, expire or come while it seeds', async () => {
    const { clock, store, digests } = setup(20_000)
    digests.start()
    await nextTurn()
    // Most of these were not in the digest yet: the seeding must skip the versions they replace.
    for (let i = 1; i < 20_000; i += 7) store.merge(record(i, { created: NOW + 1 }), NOW)
    for (let i = 20_000; i < 21_000; i++) store.merge(record(i), NOW)
    clock.now = NOW + 10
    store.prune(clock.now)
    const digest = await digests.of(REALM)
    const reference = new RealmDigest(store.entries(REALM, clock.now))
    // Expired: every fourth record, unless replaced by a version that lives on.
    const expired = Array.from({ length: 20_000 }, (_, i) => i % 4 === 0 && i % 7 !== 1)
    expect(reference.size).toBe(21_000 - expired.filter(Boolean).length)
    for (let d = 0; d <= 2; d++) {
      for (let prefix = 0n; prefix < 16n ** BigInt(d); prefix++) {
        expect(digest.range(d, prefix)).toEqual(reference.range(d, prefix))
      }
    }
    digests.stop()
  })

  it('stops: a digest still seeding is refused, and the replica is no longer followed', async () => {
    const { store, digests } = setup(100)
    digests.start()
    const seeding = digests.of(REALM)
    digests.stop()
    await expect(seeding).rejects.toThrow('stopped')
    await expect(digests.of(REALM)).rejects.toThrow('not served')

    digests.start()
    const digest = await digests.of(REALM)
    digests.stop()
    store.merge(record(1000), NOW)
    expect(digest.range(0, 0n).count).toBe(100)
  })
})
