import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { createReplicaStore, LocalSessionCache, type SessionRecord } from '@tlsmesh/store'
import { DEFAULT_SYNC_LIMITS, SyncKind, type SyncMessage } from '@tlsmesh/wire'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  authenticateBatch,
  type BatchValidationContext,
  toVerdict,
  validateBatch,
} from '../src/gossip-validation.ts'
import { MeshCounters } from '../src/mesh-metrics.ts'
import { SyncReplicaClient, serveSyncReplica } from '../src/sync/replica-port.ts'
import type { LocalReplicaSession } from '../src/sync/sync-replica.ts'
import { BatchValidationClient, serveBatchValidation } from '../src/thread/batch-port.ts'
import { forwardLocalWrites, LocalWritesClient } from '../src/thread/write-port.ts'
import { countTurns } from './loop-turns.ts'
import { createSigner, type Signer, sessionRecord, signedBatch } from './signed-records.ts'

// The transport on one thread, the replica on another: a batch the transport authenticated is
// stored by the replica's thread, and the server's writes go to the transport to be signed, their
// proofs coming back. Through real message ports.

const REALM = 'web'
const NOW = 1_800_000_000_000

let origin: Signer
let self: Signer
beforeAll(async () => {
  ;[origin, self] = await Promise.all([createSigner(), createSigner()])
})

const ports: MessagePort[] = []
afterEach(() => {
  for (const port of ports.splice(0)) port.close()
})

function channel(): [MessagePort, MessagePort] {
  const { port1, port2 } = new MessageChannel()
  ports.push(port1, port2)
  return [port1, port2]
}

const wire = (r: SessionRecord) => ({ id: r.id, value: r.value!, created: r.created, expires: r.expires })

describe('batch validation behind a port', () => {
  function replicaSide() {
    const store = createReplicaStore({ realms: [REALM], maxTtlMs: 3_600_000 })
    const counters = new MeshCounters()
    const ctx: BatchValidationContext = {
      store,
      limits: {},
      now: () => NOW,
      counters,
      auth: self.auth,
      originAllowed: () => true,
    }
    const [replicaPort, transportPort] = channel()
    serveBatchValidation((batch) => toVerdict(counters, () => validateBatch(ctx, batch)), replicaPort, {})
    return { store, counters, ctx, client: new BatchValidationClient(transportPort) }
  }

  it('stores an authenticated batch on the other side, with its proof, and says what it did', async () => {
    const { store, ctx, client } = replicaSide()
    const records = Array.from({ length: 5 }, () =>
      sessionRecord(NOW, { realm: REALM, origin: origin.origin }),
    )
    const data = signedBatch(origin, REALM, records.map(wire))
    const authenticated = authenticateBatch(ctx, { topicRealm: REALM, from: origin.origin, data })
    expect(await client.validate(authenticated)).toBe('accept')
    for (const r of records) {
      const held = store.peek(REALM, r.id, NOW)
      expect(held).toMatchObject({ origin: origin.origin, value: r.value })
      expect(held?.proof).toEqual(authenticated.proof)
    }
    expect(await client.validate(authenticated)).toBe('ignore')
    expect(client.pending).toBe(0)
  })

  it('brings back a reject for a batch its origin signed over a hard limit, and stores none of it', async () => {
    const { store, client, ctx } = replicaSide()
    const tooLong = sessionRecord(NOW, { realm: REALM, origin: origin.origin, expires: NOW + 7_200_000 })
    const data = signedBatch(origin, REALM, [wire(tooLong)])
    const authenticated = authenticateBatch(ctx, { topicRealm: REALM, from: origin.origin, data })
    expect(await client.validate(authenticated)).toBe('reject')
    expect(store.stats().entries).toBe(0)
  })

  it('takes batches that came together one a turn, in order, with the loop served between them', async () => {
    const { ctx } = replicaSide()
    const loop = countTurns()
    const takenOn: Array<[number, number]> = []
    const [replicaPort, transportPort] = channel()
    serveBatchValidation(
      ({ batch }) => {
        takenOn.push([loop.turns, batch.records.length])
        return 'accept'
      },
      replicaPort,
      {},
    )
    const client = new BatchValidationClient(transportPort)
    // Batches of 1 to 6 records, delivered at once: they reach the replica's thread in one task.
    const batches = Array.from({ length: 6 }, (_, i) => {
      const records = Array.from({ length: i + 1 }, () =>
        sessionRecord(NOW, { realm: REALM, origin: origin.origin }),
      )
      const data = signedBatch(origin, REALM, records.map(wire))
      return authenticateBatch(ctx, { topicRealm: REALM, from: origin.origin, data })
    })
    expect(await Promise.all(batches.map((batch) => client.validate(batch)))).toEqual(Array(6).fill('accept'))
    loop.stop()
    expect(takenOn.map(([, records]) => records)).toEqual([1, 2, 3, 4, 5, 6])
    for (let i = 1; i < takenOn.length; i++) expect(takenOn[i]![0]).toBeGreaterThan(takenOn[i - 1]![0])
  })
})

describe('local writes behind a port', () => {
  it("hands the server's writes to the transport, and attaches the proofs that come back", async () => {
    const store = createReplicaStore({ realms: [REALM] })
    const cache = new LocalSessionCache({ store, now: () => NOW, origin: self.origin })
    const [replicaPort, transportPort] = channel()
    forwardLocalWrites(store, replicaPort)
    const published: SessionRecord[] = []
    const writes = new LocalWritesClient(transportPort, (record) => published.push(record))
    // What arrives by sync or gossip is the mesh's already: not published again.
    const relayed = sessionRecord(NOW, { realm: REALM, origin: origin.origin })
    store.merge(relayed, NOW, 'sync')
    const id = new TextEncoder().encode('session-1')
    cache.set(REALM, id, new Uint8Array([1, 2, 3]), 60_000)
    const gone = new TextEncoder().encode('session-0')
    cache.set(REALM, gone, new Uint8Array([4]), 60_000)
    cache.delete(REALM, gone)
    await expect.poll(() => published.length).toBe(3)
    expect(published[0]).toMatchObject({
      realm: REALM,
      id,
      value: new Uint8Array([1, 2, 3]),
      origin: self.origin,
    })
    expect(published[2]?.value).toBeUndefined()
    // The publisher signs the batch: the replica's copies get its proof, the tombstone's too.
    const { proof } = self.auth.sign(
      REALM,
      published.map((r) => ({ ...r })),
    )
    for (const record of published) writes.attachProof(record, proof)
    await expect.poll(() => store.peek(REALM, id, NOW)?.proof).toEqual(proof)
    expect(store.peek(REALM, gone, NOW)?.proof).toEqual(proof)
    expect(store.peek(REALM, relayed.id, NOW)?.proof).toBeUndefined()
  })
})

describe("sync's replica side behind a port", () => {
  it('takes requests that came together one a turn, in order, with the loop served between them', async () => {
    const loop = countTurns()
    const answeredOn: Array<[number, bigint]> = []
    const session: LocalReplicaSession = {
      answer: async (message: SyncMessage) => {
        answeredOn.push([loop.turns, message.wanted[0]!])
        return { ...message, wanted: [] }
      },
      answerPackedQuery: () => Promise.reject(new Error('no query here')),
      reconcile: () => Promise.reject(new Error('no reconciliation here')),
      close: async () => ({ learnt: 0, young: 0 }),
    }
    const [replicaPort, transportPort] = channel()
    serveSyncReplica({ session: () => session }, replicaPort, DEFAULT_SYNC_LIMITS)
    const remote = new SyncReplicaClient(transportPort, DEFAULT_SYNC_LIMITS).session()
    // An initiator's pipelined pages: posted at once, they reach the replica's thread in one task.
    const pages = Array.from({ length: 8 }, (_, i) =>
      remote.answer({
        kind: SyncKind.RECORDS,
        realm: REALM,
        ranges: [],
        records: [],
        proofs: [],
        wanted: [BigInt(i)],
      }),
    )
    await Promise.all(pages)
    loop.stop()
    expect(answeredOn.map(([, key]) => key)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n])
    const turns = answeredOn.map(([at]) => at)
    for (let i = 1; i < turns.length; i++) expect(turns[i]).toBeGreaterThan(turns[i - 1]!)
  })
})
