import { createReplicaStore, type MergeOutcome, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { SyncKind, type SyncMessage } from '@tlsmesh/wire'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type RecordRefusal, SyncPeerMisbehavedError } from '../src/errors.ts'
import { RealmDigests } from '../src/sync/realm-digests.ts'
import { RecordPage } from '../src/sync/set-reconciliation.ts'
import { syncKeyOf } from '../src/sync/sync-keys.ts'
import { SPREAD_MIN_AGE_MS, SyncReplica } from '../src/sync/sync-replica.ts'
import { createSigner, publishedRecords, type Signer } from './signed-records.ts'

// Sync's replica side on its own: two replicas reconcile through it with no stream, codec or key in
// between (what a transport on another thread would hand it), and it refuses what was not asked for.

const REALM = 'web'
const NOW = 1_800_000_000_000

let origin: Signer
let outsider: Signer
beforeAll(async () => {
  ;[origin, outsider] = await Promise.all([createSigner(), createSigner()])
})

interface Replica {
  store: ReplicaStore
  replica: SyncReplica
  refused: Array<[RecordRefusal, number]>
  merged: MergeOutcome[]
}

const started: RealmDigests[] = []
afterEach(() => {
  for (const digests of started.splice(0)) digests.stop()
})

function replicaOf(records: SessionRecord[], allowed: (origin: string) => boolean = () => true): Replica {
  const store = createReplicaStore({ realms: [REALM] })
  for (const r of records) store.merge(r, NOW)
  const digests = new RealmDigests([REALM], { store, now: () => NOW })
  digests.start()
  started.push(digests)
  const node: Replica = { store, refused: [], merged: [], replica: undefined as unknown as SyncReplica }
  node.replica = new SyncReplica({
    store,
    digests,
    now: () => NOW,
    originAllowed: allowed,
    onMerged: (outcome) => node.merged.push(outcome),
    onRefused: (reason, records) => node.refused.push([reason, records]),
  })
  return node
}

/** `n` records of `signer` created `age` ms before NOW, as its batches published them. */
const published = (n: number, age: number, signer = origin): SessionRecord[] =>
  publishedRecords(signer, NOW, n, { realm: REALM, created: NOW - age, expires: NOW + 3_600_000 })

describe('SyncReplica', () => {
  it('reconciles two replicas through its sessions alone, and tallies what it learnt by age', async () => {
    const older = published(40, 10 * SPREAD_MIN_AGE_MS)
    const younger = published(5, 0)
    const held = published(30, 10 * SPREAD_MIN_AGE_MS)
    const a = replicaOf(held)
    const b = replicaOf([...held, ...older, ...younger])
    const responder = b.replica.session()
    const initiator = a.replica.session()
    const result = await initiator.reconcile([REALM], (message) => responder.answer(message))
    expect(result).toMatchObject({ pulled: 45, pushed: 0 })
    expect(await initiator.close()).toEqual({ learnt: 40, young: 5 })
    expect(a.store.stats().entries).toBe(75)
    for (const r of [...older, ...younger]) expect(a.store.peek(REALM, r.id, NOW)?.proof).toBe(r.proof)
    expect(a.merged).toEqual(Array(45).fill('added'))
  })

  it('stores none of a page that holds one record it did not ask for, wherever it is, and counts the page', async () => {
    const b = replicaOf([])
    const records = published(4, 0)
    const session = b.replica.session()
    // Asked about one range: the responder, holding nothing, lists it; the push names another key.
    const top = (r: SessionRecord): bigint => syncKeyOf(r.id) >> 60n
    const inside = records.filter((r) => top(r) === top(records[0]!))
    const outside = records.find((r) => top(r) !== top(records[0]!))!
    const query: SyncMessage = {
      kind: SyncKind.QUERY,
      realm: REALM,
      ranges: [{ depth: 1, prefix: top(records[0]!), fingerprint: 1n, count: 1 }],
      records: [],
      proofs: [],
      wanted: [],
    }
    expect((await session.answer(query)).ranges[0]?.items).toEqual([])
    const page = new RecordPage()
    for (const r of [...inside, outside]) page.add(r)
    const push = { ...query, kind: SyncKind.RECORDS, ranges: [], records: page.records, proofs: page.proofs }
    const refusal = await session.answer(push).catch((err: unknown) => err)
    expect(refusal).toBeInstanceOf(SyncPeerMisbehavedError)
    expect((refusal as SyncPeerMisbehavedError).code).toBe('unrequested')
    expect(b.refused).toEqual([['unrequested', inside.length + 1]])
    expect(b.merged).toEqual([])
    expect(b.store.stats().entries).toBe(0)
    expect(await session.close()).toEqual({ learnt: 0, young: 0 })
  })

  it("leaves out an origin's records outside the allowlist, counted, and stores the rest", async () => {
    const allowed = published(6, 10 * SPREAD_MIN_AGE_MS)
    const refused = published(3, 10 * SPREAD_MIN_AGE_MS, outsider)
    const a = replicaOf([], (o) => o !== outsider.origin)
    const b = replicaOf([...allowed, ...refused])
    const responder = b.replica.session()
    await a.replica.session().reconcile([REALM], (message) => responder.answer(message))
    expect(a.store.stats().entries).toBe(6)
    expect(a.refused).toEqual(Array(3).fill(['origin-not-allowed', 1]))
    for (const r of refused) expect(a.store.peek(REALM, r.id, NOW)).toBeUndefined()
  })

  it('answers no message of a kind only a responder sends', async () => {
    const session = replicaOf([]).replica.session()
    const answer = { kind: SyncKind.ANSWER, realm: REALM, ranges: [], records: [], proofs: [], wanted: [] }
    await expect(session.answer(answer)).rejects.toThrow('unexpected sync message')
  })
})
