import { randomBytes } from 'node:crypto'
import { createReplicaStore, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import {
  decodeSyncMessage,
  encodeSyncMessage,
  SyncKind,
  type SyncMessage,
  SyncProofTable,
} from '@tlsmesh/wire'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RealmDigest } from '../src/sync/realm-digest.ts'
import {
  answerQuery,
  answerQueryInSlices,
  answerRecords,
  answerRecordsInSlices,
  ListedRanges,
  type ReconciliationSide,
  RecordPage,
  reconcile,
} from '../src/sync/set-reconciliation.ts'
import { syncKeyOf } from '../src/sync/sync-keys.ts'
import { TimeSlice } from '../src/sync/time-slice.ts'
import { liveDigest } from './digest-fixtures.ts'
import { countTurns } from './loop-turns.ts'
import { createSigner, publishedRecords, type Signer, sessionRecord, signRecords } from './signed-records.ts'

const REALM = 'web'
const NOW = 1_800_000_000_000

/** Two origins whose records the replicas hold, and the node that checks what it receives. */
let originA: Signer
let originB: Signer
let checker: Signer
beforeAll(async () => {
  ;[originA, originB, checker] = await Promise.all([createSigner(), createSigner(), createSigner()])
})

/** A record of `originA`, unsigned: what a local write is until its batch is signed. */
const record = (fields: Partial<SessionRecord> = {}): SessionRecord =>
  sessionRecord(NOW, { realm: REALM, origin: originA.origin, ...fields })

/** `n` records as `signer` published them, each with its batch's proof. */
const published = (n: number, signer = originA): SessionRecord[] =>
  publishedRecords(signer, NOW, n, { realm: REALM })

/** What a RECORDS message was received with: each record's key and whether it had been asked for. */
type Received = Array<{ key: bigint; requested: boolean }>

/**
 * A side over `store` that stores what it receives as sync must: only what it asked for, only as its
 * origin signed it (the proof kept beside it). `received` logs each record before the checks.
 */
const EMPTY_RECORDS: SyncMessage = {
  kind: SyncKind.RECORDS,
  realm: REALM,
  ranges: [],
  records: [],
  proofs: [],
  wanted: [],
}

/** The clock the sides' digests and stores read; tests that move it put it back after. */
let clock = NOW
afterEach(() => {
  clock = NOW
})

function side(store: ReplicaStore, listed?: ListedRanges, received: Received = []): ReconciliationSide {
  return {
    realm: REALM,
    digest: liveDigest(store, REALM, () => clock),
    ...(listed !== undefined ? { listed } : {}),
    receive: (message, requested) => {
      for (const r of message.records) {
        const key = syncKeyOf(r.id)
        received.push({ key, requested: requested(key) })
        if (!requested(key)) throw new Error('unrequested')
        const checked = checker.auth.checkProof(REALM, message.proofs[r.proof]!)
        if (checked === undefined || !checker.auth.covers(checked, r)) throw new Error('forged')
        store.merge({ ...r, realm: REALM, proof: checked.proof }, clock)
      }
    },
  }
}

interface SyncRun {
  bytes: number
  rounds: number
  pushed: number
  pulled: number
  /** What each side received. */
  initiator: Received
  responder: Received
}

const newRun = (): SyncRun => ({ bytes: 0, rounds: 0, pushed: 0, pulled: 0, initiator: [], responder: [] })

/** Runs a reconciliation of `a` (initiator) with `b` through the real codec; `tamper` edits replies. */
async function sync(
  a: ReplicaStore,
  b: ReplicaStore,
  tamper: (reply: SyncMessage) => SyncMessage = (reply) => reply,
  run = newRun(),
): Promise<SyncRun> {
  const responder = side(b, new ListedRanges(), run.responder)
  const result = await reconcile(side(a, undefined, run.initiator), async (message: SyncMessage) => {
    const request = encodeSyncMessage(message)
    run.bytes += request.byteLength
    const decoded = decodeSyncMessage(request)
    const reply = encodeSyncMessage(
      tamper(
        decoded.kind === SyncKind.QUERY ? answerQuery(responder, decoded) : answerRecords(responder, decoded),
      ),
    )
    run.bytes += reply.byteLength
    return decodeSyncMessage(reply)
  })
  Object.assign(run, { rounds: result.rounds, pushed: result.pushed, pulled: result.pulled })
  return run
}

/** The fingerprint of the whole realm, from scratch. */
function fingerprintOf(store: ReplicaStore, now = NOW): bigint {
  return new RealmDigest(store.entries(REALM, now)).range(0, 0n).fingerprint
}

function stores(): [ReplicaStore, ReplicaStore] {
  const init = { realms: [REALM], maxEntriesPerRealm: 200_000, maxBytesPerRealm: 1 << 30 }
  return [createReplicaStore(init), createReplicaStore(init)]
}

describe('set reconciliation', () => {
  it('equal replicas agree in one round of a few bytes', async () => {
    const [a, b] = stores()
    for (const r of published(1000)) {
      a.merge(r, NOW)
      b.merge(r, NOW)
    }
    const { bytes, rounds } = await sync(a, b)
    expect(rounds).toBe(1)
    expect(bytes).toBeLessThan(100)
  })

  it('two replicas that differ both ways converge: missing records, newer versions, tombstones', async () => {
    const [a, b] = stores()
    const shared = published(2000)
    for (const r of shared) {
      a.merge(r, NOW)
      b.merge(r, NOW)
    }
    const onlyA = published(30, originA)
    const onlyB = published(40, originB)
    for (const r of onlyA) a.merge(r, NOW)
    for (const r of onlyB) b.merge(r, NOW)
    // B holds a newer version of 10 shared records, A a tombstone for 5 others, both by their origin.
    const newer = shared
      .slice(0, 10)
      .map((r) => ({ ...r, created: r.created + 1, value: new Uint8Array(randomBytes(100)) }))
    for (const r of signRecords(originA, newer)) b.merge(r, NOW)
    const tombstones = shared
      .slice(10, 15)
      .map(({ value: _dropped, ...rest }) => ({ ...rest, created: rest.created + 1 }))
    for (const r of signRecords(originA, tombstones)) a.merge(r, NOW)

    await sync(a, b)

    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
    for (const r of [...onlyA, ...onlyB]) {
      expect(a.get(REALM, r.id, NOW)?.value).toEqual(r.value)
      expect(b.get(REALM, r.id, NOW)?.value).toEqual(r.value)
    }
    for (const r of shared.slice(0, 10)) expect(a.get(REALM, r.id, NOW)?.created).toBe(r.created + 1)
    for (const r of shared.slice(10, 15)) {
      expect(b.get(REALM, r.id, NOW)).toBeUndefined()
      expect(b.peek(REALM, r.id, NOW)).toBeDefined()
    }
  })

  it('keeps eight record pages in flight: an empty side pulls 5,000 records and ends equal', async () => {
    const [a, b] = stores()
    for (const r of published(5000)) b.merge(r, NOW)
    const responder = side(b, new ListedRanges())
    let outstanding = 0
    let most = 0
    const result = await reconcile(side(a), (message) => {
      outstanding++
      most = Math.max(most, outstanding)
      const reply =
        message.kind === SyncKind.QUERY ? answerQuery(responder, message) : answerRecords(responder, message)
      // The answer comes a turn later, as from a peer; the next page may go out meanwhile.
      return new Promise((resolve) =>
        setImmediate(() => {
          outstanding--
          resolve(reply)
        }),
      )
    })
    expect(most).toBe(8)
    expect(result.pulled).toBe(5000)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
  })

  it('a live digest follows a record replaced by a newer version (new stored object, new hashes)', () => {
    const store = createReplicaStore({ realms: [REALM] })
    const first = record()
    for (let i = 0; i < 50; i++) store.merge(record(), NOW)
    store.merge(first, NOW)
    const digest = liveDigest(store, REALM, () => NOW)
    const before = digest.range(0, 0n)
    expect(before).toEqual(new RealmDigest(store.entries(REALM, NOW)).range(0, 0n))
    expect(store.merge({ ...first, created: first.created + 1 }, NOW)).toBe('replaced')
    const after = digest.range(0, 0n)
    expect(after.count).toBe(before.count)
    expect(after.fingerprint).not.toBe(before.fingerprint)
    expect(after).toEqual(new RealmDigest(store.entries(REALM, NOW)).range(0, 0n))
  })

  it('records held past their expiry, not purged yet, are neither a difference nor sent', async () => {
    const [a, b] = stores()
    for (const r of published(500)) {
      a.merge(r, NOW)
      b.merge(r, NOW)
    }
    for (const r of publishedRecords(originA, NOW, 20, { realm: REALM, expires: NOW + 1000 })) a.merge(r, NOW)
    clock = NOW + 1000
    for (const [initiator, responder] of [
      [a, b],
      [b, a],
    ] as const) {
      const run = await sync(initiator, responder)
      expect(run).toMatchObject({ rounds: 1, pushed: 0, pulled: 0 })
    }
    // Only the digest left them out: the replica drops them when it meets them or prunes.
    expect(a.stats().entries).toBe(520)
  })

  it('a session goes on while the replica changes between its round trips; the next one settles it', async () => {
    const [a, b] = stores()
    for (const r of published(3000)) {
      a.merge(r, NOW)
      b.merge(r, NOW)
    }
    const onlyB = published(300, originB)
    for (const r of onlyB) b.merge(r, NOW)
    const late = published(300, originB)
    // The responder takes new records after its second answer, in ranges found equal or not.
    let answers = 0
    const storeLate = (reply: SyncMessage): SyncMessage => {
      if (reply.kind === SyncKind.ANSWER && ++answers === 2) for (const r of late) b.merge(r, NOW)
      return reply
    }
    await sync(a, b, storeLate)
    for (const r of onlyB) expect(a.peek(REALM, r.id, NOW)).toBeDefined()
    await sync(a, b)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
  })

  it('an empty replica pulls everything from a full one', async () => {
    const [a, b] = stores()
    for (const r of published(5000)) b.merge(r, NOW)
    await sync(a, b)
    expect(a.stats().entries).toBe(5000)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
  })

  it('a full replica pushes all of it to an empty one, serving the event loop while it reads its realm', async () => {
    const [a, b] = stores()
    for (const r of published(5000)) a.merge(r, NOW)
    const loop = countTurns()
    // The empty responder lists the whole key space: a range of 5,000 items here, read in 16 parts,
    // the event loop served after each, while the pages go out.
    let turnsAtFirstPage: number | undefined
    const run = await sync(a, b, (reply) => {
      if (reply.kind === SyncKind.RECORDS) turnsAtFirstPage ??= loop.turns
      return reply
    })
    loop.stop()
    expect(loop.turns - turnsAtFirstPage!).toBeGreaterThanOrEqual(15)
    expect(run.pushed).toBe(5000)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
  })

  it('exchanges bytes in proportion to the difference, not to the replica', async () => {
    const [a, b] = stores()
    let fullCopyBytes = 0
    for (const r of published(20_000)) {
      a.merge(r, NOW)
      b.merge(r, NOW)
      fullCopyBytes += 32 + 200 + 30
    }
    for (const r of published(20)) b.merge(r, NOW)
    const { bytes } = await sync(a, b)
    expect(fingerprintOf(a)).toBe(fingerprintOf(b))
    expect(bytes / fullCopyBytes).toBeLessThan(0.05)
  })

  it('sends no record without a proof (a local write whose batch is not signed yet), either way', async () => {
    const [a, b] = stores()
    const unsignedA = Array.from({ length: 5 }, () => record())
    const unsignedB = Array.from({ length: 5 }, () => record({ origin: originB.origin }))
    const signedA = published(7)
    for (const r of [...unsignedA, ...signedA]) a.merge(r, NOW)
    for (const r of unsignedB) b.merge(r, NOW)
    const run = await sync(a, b)
    expect(run.pushed).toBe(7)
    expect(run.pulled).toBe(0)
    expect(b.stats().entries).toBe(5 + 7)
    for (const r of unsignedA) expect(b.peek(REALM, r.id, NOW)).toBeUndefined()
    for (const r of unsignedB) expect(a.peek(REALM, r.id, NOW)).toBeUndefined()

    // Once its batch is signed, the record goes with the next reconciliation.
    const [first] = signRecords(originA, [unsignedA[0]!])
    expect(a.attachProof(unsignedA[0]!, first!.proof!)).toBe(true)
    expect((await sync(a, b)).pushed).toBe(1)
    expect(b.peek(REALM, unsignedA[0]!.id, NOW)?.proof).toEqual(first!.proof)
  })

  it('RecordPage leaves out a record without a proof, and sends each proof once', () => {
    const page = new RecordPage()
    const [one, two] = published(2)
    expect(page.add(record())).toBe(false)
    expect(page.add(one!)).toBe(true)
    expect(page.add(two!)).toBe(true)
    expect(page.records.map((r) => r.proof)).toEqual([0, 0])
    expect(page.proofs).toEqual([one!.proof])
    expect(page.records[0]).toMatchObject({ origin: originA.origin, created: one!.created })
  })

  it("RecordPage numbers a session's proofs as the encoder does: in full once, a few bytes after", () => {
    const paged = new SyncProofTable()
    const [one, two] = published(2)
    const first = new RecordPage(paged)
    first.add(one!)
    const second = new RecordPage(paged)
    second.add(two!)
    expect(paged.numberOf(one!.proof!)).toBe(0)
    expect(first.bytes - second.bytes).toBeGreaterThan(one!.proof!.digests.byteLength)
    // What the encoder's own table numbers after sending both pages: the same.
    const sent = new SyncProofTable()
    const bytes = [first, second].map(
      (page) =>
        encodeSyncMessage({ ...EMPTY_RECORDS, records: page.records, proofs: page.proofs }, sent).byteLength,
    )
    expect(sent.numberOf(one!.proof!)).toBe(0)
    expect(bytes[0]! - bytes[1]!).toBeGreaterThan(one!.proof!.digests.byteLength)
  })

  it('the initiator takes only the keys it asked for: an extra record is unrequested', async () => {
    const [a, b] = stores()
    const [wanted, extra] = published(2)
    b.merge(wanted!, NOW)
    a.merge(extra!, NOW)
    b.merge(extra!, NOW)
    // The responder slips in, with its proof, a record of a key the initiator holds already.
    const slipIn = (reply: SyncMessage): SyncMessage =>
      reply.kind !== SyncKind.RECORDS
        ? reply
        : {
            ...reply,
            records: [...reply.records, { ...extra!, proof: reply.proofs.length }],
            proofs: [...reply.proofs, extra!.proof!],
          }
    const run = newRun()
    await expect(sync(a, b, slipIn, run)).rejects.toThrow('unrequested')
    expect(run.initiator).toEqual([
      { key: syncKeyOf(wanted!.id), requested: true },
      { key: syncKeyOf(extra!.id), requested: false },
    ])
  })

  it('the initiator ends the session on an answer about a range it did not ask about', async () => {
    const [a, b] = stores()
    for (const r of published(100)) b.merge(r, NOW)
    // The responder answers the whole realm bare, then again and again: each time, it was asked
    // about its 16 children instead.
    const again = (reply: SyncMessage): SyncMessage =>
      reply.kind !== SyncKind.ANSWER
        ? reply
        : { ...reply, ranges: [{ depth: 0, prefix: 0n, fingerprint: 1n, count: 1000 }] }
    await expect(sync(a, b, again)).rejects.toThrow('not asked about')
    expect(a.stats().entries).toBe(0)
  })

  it('answers a query in slices as it would at once, handing the loop back between them', async () => {
    const [, b] = stores()
    for (const r of published(3000)) b.merge(r, NOW)
    const ranges = Array.from({ length: 256 }, (_, i) => ({
      depth: 2,
      prefix: BigInt(i),
      fingerprint: 1n,
      count: 1,
    }))
    const query: SyncMessage = { ...EMPTY_RECORDS, kind: SyncKind.QUERY, ranges }
    const whole = answerQuery(side(b, new ListedRanges()), query)
    const loop = countTurns()
    const sliced = await answerQueryInSlices(
      side(b, new ListedRanges()),
      query,
      new TimeSlice(0, undefined, 1),
    )
    loop.stop()
    expect(sliced).toEqual(whole)
    expect(whole.ranges).toHaveLength(256)
    expect(loop.turns).toBeGreaterThanOrEqual(200)
  })

  it('fills a page in slices as it would at once, handing the loop back between keys', async () => {
    const [, b] = stores()
    const held = published(200)
    for (const r of held) b.merge(r, NOW)
    const wanted = held.slice(0, 100).map((r) => syncKeyOf(r.id))
    const request: SyncMessage = { ...EMPTY_RECORDS, wanted }
    const whole = answerRecords(side(b), request)
    const loop = countTurns()
    const sliced = await answerRecordsInSlices(side(b), request, new TimeSlice(0, undefined, 1))
    loop.stop()
    expect(sliced).toEqual(whole)
    expect(whole.records).toHaveLength(100)
    expect(loop.turns).toBeGreaterThanOrEqual(90)
  })

  it('sends a record replaced while its page was being filled as it is then', async () => {
    const [, b] = stores()
    const held = published(20)
    for (const r of held) b.merge(r, NOW)
    const request: SyncMessage = { ...EMPTY_RECORDS, wanted: held.map((r) => syncKeyOf(r.id)) }
    const pending = answerRecordsInSlices(side(b), request, new TimeSlice(0, undefined, 1))
    // After the first key's turn: the last record is replaced by a newer version of it.
    const [newer] = signRecords(originA, [{ ...held[19]!, value: new Uint8Array([7]), created: NOW }])
    b.merge(newer!, NOW)
    const page = await pending
    expect(page.records).toHaveLength(20)
    expect(page.records[0]!.value).toEqual(held[0]!.value)
    expect(page.records[19]!.value).toEqual(new Uint8Array([7]))
  })

  it('the responder takes pushed records only in the ranges it listed', () => {
    const [, b] = stores()
    const log: Received = []
    const responder = side(b, new ListedRanges(), log)
    const topNibble = (r: SessionRecord): bigint => syncKeyOf(r.id) >> 60n
    const candidates = published(32)
    const inside = candidates[0]!
    const outside = candidates.find((r) => topNibble(r) !== topNibble(inside))!
    // The initiator asked about inside's range: the responder, holding nothing there, listed it.
    const query: SyncMessage = {
      kind: SyncKind.QUERY,
      realm: REALM,
      ranges: [{ depth: 1, prefix: topNibble(inside), fingerprint: 1n, count: 1 }],
      records: [],
      proofs: [],
      wanted: [],
    }
    expect(answerQuery(responder, query).ranges[0]?.items).toEqual([])
    const page = new RecordPage()
    for (const r of [inside, outside]) page.add(r)
    const push: SyncMessage = {
      ...query,
      kind: SyncKind.RECORDS,
      ranges: [],
      records: page.records,
      proofs: page.proofs,
    }
    expect(() => answerRecords(responder, push)).toThrow('unrequested')
    expect(log).toEqual([
      { key: syncKeyOf(inside.id), requested: true },
      { key: syncKeyOf(outside.id), requested: false },
    ])
    expect(b.peek(REALM, outside.id, NOW)).toBeUndefined()
  })
})
