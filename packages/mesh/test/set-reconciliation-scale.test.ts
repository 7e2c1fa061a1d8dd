import { createReplicaStore, type ReplicaStore } from '@tlsmesh/store'
import {
  DEFAULT_SYNC_LIMITS,
  decodeSyncMessage,
  encodeSyncMessage,
  SyncKind,
  type SyncMessage,
} from '@tlsmesh/wire'
import { describe, expect, it } from 'vitest'
import {
  answerQuery,
  answerRecords,
  ListedRanges,
  type ReconciliationResult,
  type ReconciliationSide,
  reconcile,
} from '../src/sync/set-reconciliation.ts'
import { syncKeyOf } from '../src/sync/sync-keys.ts'
import { liveDigest, numberedRecord, UNCHECKED_PROOF } from './digest-fixtures.ts'

// Reconciliations of realms of 100,000 and 300,000 records, every message through the real codec
// with the default limits: catch-up must complete in messages a peer accepts, whatever the sizes.

const REALM = 'web'
const NOW = 1_800_000_000_000

/** Largest of each bounded part over every message of a run, both ways. */
interface Largest {
  bytes: number
  ranges: number
  items: number
  records: number
  proofs: number
  wanted: number
}

interface Run extends ReconciliationResult {
  largest: Largest
  /** Keys of the records each side received, in order. */
  initiatorGot: bigint[]
  responderGot: bigint[]
}

/** A replica holding records `first` to `end - 1` (ids `session-<i>`), each with a proof that decodes. */
function storeOf(first: number, end: number): ReplicaStore {
  const store = createReplicaStore({
    realms: [REALM],
    maxEntriesPerRealm: 400_000,
    maxBytesPerRealm: 1 << 30,
  })
  for (let i = first; i < end; i++) {
    store.merge(numberedRecord(REALM, NOW, i, { proof: UNCHECKED_PROOF }), NOW)
  }
  return store
}

/** A side that stores what it asked for and refuses anything else (proofs are not the point here). */
function side(store: ReplicaStore, got: bigint[], listed?: ListedRanges): ReconciliationSide {
  return {
    realm: REALM,
    digest: liveDigest(store, REALM, () => NOW),
    ...(listed !== undefined ? { listed } : {}),
    receive: (message, requested) => {
      for (const record of message.records) {
        const key = syncKeyOf(record.id)
        if (!requested(key)) throw new Error('unrequested')
        got.push(key)
        store.merge({ ...record, realm: REALM, proof: message.proofs[record.proof]! }, NOW)
      }
    },
  }
}

/** Encodes `message` as a node sends it and decodes it as its peer does, noting its sizes. */
function send(message: SyncMessage, largest: Largest): SyncMessage {
  const bytes = encodeSyncMessage(message)
  largest.bytes = Math.max(largest.bytes, bytes.byteLength)
  largest.ranges = Math.max(largest.ranges, message.ranges.length)
  for (const range of message.ranges) largest.items = Math.max(largest.items, range.items?.length ?? 0)
  largest.records = Math.max(largest.records, message.records.length)
  largest.proofs = Math.max(largest.proofs, message.proofs.length)
  largest.wanted = Math.max(largest.wanted, message.wanted.length)
  return decodeSyncMessage(bytes, DEFAULT_SYNC_LIMITS)
}

/** Reconciles `a` (initiator) with `b` in this process, every message through the codec. */
async function sync(a: ReplicaStore, b: ReplicaStore): Promise<Run> {
  const largest: Largest = { bytes: 0, ranges: 0, items: 0, records: 0, proofs: 0, wanted: 0 }
  const initiatorGot: bigint[] = []
  const responderGot: bigint[] = []
  const responder = side(b, responderGot, new ListedRanges())
  const result = await reconcile(side(a, initiatorGot), async (message) => {
    const request = send(message, largest)
    const reply =
      request.kind === SyncKind.QUERY ? answerQuery(responder, request) : answerRecords(responder, request)
    // The reply comes on a later turn, as it would over a stream.
    await new Promise<void>((resolve) => setImmediate(resolve))
    return send(reply, largest)
  })
  return { ...result, largest, initiatorGot, responderGot }
}

/** The sync keys of records `first` to `end - 1`. */
function keysOf(first: number, end: number): Set<bigint> {
  const keys = new Set<bigint>()
  for (let i = first; i < end; i++) keys.add(syncKeyOf(numberedRecord(REALM, NOW, i).id))
  return keys
}

/** `got` is `expected`, each key once. */
function expectKeys(got: bigint[], expected: Set<bigint>): void {
  expect(got.length).toBe(expected.size)
  expect(got.every((key) => expected.has(key))).toBe(true)
  expect(new Set(got).size).toBe(got.length)
}

function expectWithinLimits({ largest }: Run): void {
  expect(largest.bytes).toBeLessThanOrEqual(DEFAULT_SYNC_LIMITS.maxMessageBytes)
  expect(largest.ranges).toBeLessThanOrEqual(DEFAULT_SYNC_LIMITS.maxRanges)
  expect(largest.items).toBeLessThanOrEqual(DEFAULT_SYNC_LIMITS.maxItemsPerRange)
  expect(largest.records).toBeLessThanOrEqual(DEFAULT_SYNC_LIMITS.maxRecords)
  expect(largest.proofs).toBeLessThanOrEqual(DEFAULT_SYNC_LIMITS.maxProofs)
  expect(largest.wanted).toBeLessThanOrEqual(DEFAULT_SYNC_LIMITS.maxWanted)
}

/** Both replicas hold the same versions (the live digests are checked against ones built from scratch elsewhere). */
function expectSameRealm(a: ReplicaStore, b: ReplicaStore): void {
  const digestOf = (store: ReplicaStore) => liveDigest(store, REALM, () => NOW).range(0, 0n)
  expect(digestOf(a)).toEqual(digestOf(b))
}

// About 15 s in all on an idle 2-core machine; the timeout leaves room for a machine shared with other work.
describe('set reconciliation at scale, every message within the wire limits', { timeout: 120_000 }, () => {
  it.each([100_000, 300_000])(
    'an empty replica pulls all %i records of a full one, exactly those',
    async (n) => {
      const [a, b] = [storeOf(0, 0), storeOf(0, n)]
      const run = await sync(a, b)
      expectWithinLimits(run)
      expect(run).toMatchObject({ pushed: 0, pulled: n, responderGot: [] })
      expectKeys(run.initiatorGot, keysOf(0, n))
      expect(a.stats().entries).toBe(n)
      expectSameRealm(a, b)
      // Query rounds (answers list up to 2,048 items), and pages of 128 records.
      expect(run.rounds).toBeLessThanOrEqual(24 + n / 2048 + n / 128)
    },
  )

  it('two replicas of 100,000 records that differ in 10% exchange exactly the difference', async () => {
    // 90,000 records in common, 10,000 only in each.
    const [a, b] = [storeOf(0, 100_000), storeOf(10_000, 110_000)]
    const run = await sync(a, b)
    expectWithinLimits(run)
    expect(run).toMatchObject({ pushed: 10_000, pulled: 10_000 })
    // 10,000 records each way in pages of 128 (a page each way per round), and the queries that
    // find them (about 50: the difference is spread over every range).
    expect(run.rounds).toBeLessThan(64 + 10_000 / 128)
    expectKeys(run.initiatorGot, keysOf(100_000, 110_000))
    expectKeys(run.responderGot, keysOf(0, 10_000))
    expectSameRealm(a, b)
  })
})
