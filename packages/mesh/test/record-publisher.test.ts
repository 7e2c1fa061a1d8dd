import type { RecordProof, SessionRecord } from '@tlsmesh/store'
import { decodeBatch, type RecordBatch, recordDigests, type WireLimits } from '@tlsmesh/wire'
import { beforeAll, describe, expect, it } from 'vitest'
import type { MeshClock } from '../src/clock.ts'
import { ManualClock } from '../src/manual-clock.ts'
import { MeshCounters } from '../src/mesh-metrics.ts'
import { RecordPublisher, type RecordPublisherInit } from '../src/record-publisher.ts'
import { createSigner, type Signer } from './signed-records.ts'

const NOW = 1_700_000_000_000
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

let node: Signer
let receiver: Signer
beforeAll(async () => {
  ;[node, receiver] = await Promise.all([createSigner(), createSigner()])
})

function record(realm: string, n: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    realm,
    id: bytes(`session-${n}`),
    value: bytes(`secret-${n}`),
    created: NOW + n,
    expires: NOW + n + 300_000,
    origin: node.origin,
    ...overrides,
  }
}

interface Sent {
  realm: string
  data: Uint8Array
}

interface Setup {
  publisher: RecordPublisher
  sent: Sent[]
  counters: MeshCounters
  errors: unknown[]
  /** Each attachProof call: the stored record and the proof of the batch it went out in. */
  attached: Array<{ record: SessionRecord; proof: RecordProof }>
}

/** A publisher whose gossipsub edge records what it was given and answers with `recipients`. */
function setup(
  init: Partial<RecordPublisherInit> = {},
  answer: () => Promise<number> = async () => 3,
  clock?: MeshClock,
): Setup {
  const sent: Sent[] = []
  const errors: unknown[] = []
  const attached: Setup['attached'] = []
  const counters = new MeshCounters()
  const publisher = new RecordPublisher(
    { maxBatchBytes: 64 * 1024, maxBatchRecords: 256, ...init },
    {
      counters,
      auth: node.auth,
      attachProof: (record, proof) => attached.push({ record, proof }),
      publish: (realm, data) => {
        sent.push({ realm, data })
        return answer()
      },
      onError: (err) => errors.push(err),
      ...(clock !== undefined ? { clock } : {}),
    },
  )
  return { publisher, sent, counters, errors, attached }
}

/** The batches sent, decoded as a receiver decodes them; each must verify as the node's. */
function decoded(sent: Sent[], limits?: Partial<WireLimits>): Array<{ topic: string } & RecordBatch> {
  return sent.map(({ realm, data }) => {
    const batch = decodeBatch(data, limits)
    expect(receiver.auth.verifyBatch(batch.realm, node.origin, batch.records, batch.signature)).toBeDefined()
    return { topic: realm, ...batch }
  })
}

const ids = (batch: RecordBatch): string[] => batch.records.map((r) => new TextDecoder().decode(r.id))

describe('RecordPublisher', () => {
  it('sends the records added in one event-loop turn as one batch per realm, on the next turn', async () => {
    const { publisher, sent, counters } = setup()
    publisher.add(record('a', 1))
    publisher.add(record('b', 2))
    publisher.add(record('a', 3, { value: undefined }))
    expect(sent).toHaveLength(0)

    await nextTurn()
    const batches = decoded(sent)
    expect(batches.map((b) => [b.topic, b.realm, ids(b)])).toEqual([
      ['a', 'a', ['session-1', 'session-3']],
      ['b', 'b', ['session-2']],
    ])
    const [first] = batches
    expect(first?.records[0]).toEqual({
      id: bytes('session-1'),
      value: bytes('secret-1'),
      created: NOW + 1,
      expires: NOW + 1 + 300_000,
    })
    // A tombstone travels without a value.
    expect(first?.records[1]).not.toHaveProperty('value')
    expect(counters.recordsPublished).toBe(3)
    expect(counters.messagesPublished).toBe(2)
    expect(counters.bytesPublished).toBe(sent.reduce((n, s) => n + s.data.byteLength, 0))

    // Nothing pending: later turns send nothing more.
    await nextTurn()
    expect(sent).toHaveLength(2)
    publisher.add(record('a', 4))
    await nextTurn()
    expect(decoded(sent).map(ids)).toEqual([['session-1', 'session-3'], ['session-2'], ['session-4']])
  })

  it('sends a full batch at once and starts another when maxBatchRecords is reached', async () => {
    const { publisher, sent, counters } = setup({ maxBatchRecords: 2 })
    for (let n = 1; n <= 5; n++) publisher.add(record('a', n))
    expect(decoded(sent).map(ids)).toEqual([
      ['session-1', 'session-2'],
      ['session-3', 'session-4'],
    ])
    await nextTurn()
    expect(decoded(sent).map(ids)).toEqual([
      ['session-1', 'session-2'],
      ['session-3', 'session-4'],
      ['session-5'],
    ])
    expect(counters.messagesPublished).toBe(3)
    expect(counters.recordsPublished).toBe(5)
  })

  it('keeps every batch under maxBatchBytes, and the receivers decode them with the same limits', async () => {
    const limits = { maxIdBytes: 32, maxValueBytes: 64, maxOriginBytes: 64 }
    const maxBatchBytes = 400
    const { publisher, sent } = setup({ maxBatchBytes, limits })
    for (let n = 1; n <= 10; n++) publisher.add(record('a', n, { value: new Uint8Array(60).fill(n) }))
    await nextTurn()
    expect(sent.length).toBeGreaterThan(2)
    for (const { data } of sent) expect(data.byteLength).toBeLessThanOrEqual(maxBatchBytes)
    const all = decoded(sent, { ...limits, maxMessageBytes: maxBatchBytes }).flatMap(ids)
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `session-${i + 1}`))
  })

  it('never builds a batch over the wire limit, even when maxBatchBytes is larger', async () => {
    const limits = { maxMessageBytes: 1024, maxValueBytes: 256 }
    const { publisher, sent } = setup({ maxBatchBytes: 64 * 1024, limits })
    for (let n = 1; n <= 20; n++) publisher.add(record('a', n, { value: new Uint8Array(200) }))
    await nextTurn()
    expect(sent.length).toBeGreaterThan(3)
    for (const { data } of sent) expect(data.byteLength).toBeLessThanOrEqual(1024)
    expect(decoded(sent, limits).flatMap(ids)).toHaveLength(20)
  })

  it("signs each batch over its records, and gives every record its batch's proof", async () => {
    const { publisher, sent, attached } = setup({ maxBatchRecords: 2 })
    const records = [record('a', 1), record('a', 2), record('a', 3, { value: undefined }), record('b', 4)]
    for (const r of records) publisher.add(r)
    await nextTurn()
    const batches = decoded(sent)
    expect(batches.map(ids)).toEqual([['session-1', 'session-2'], ['session-3'], ['session-4']])
    // Each stored record (the very object added) gets the proof of the batch that carried it.
    expect(attached.map((a) => a.record)).toEqual(records)
    for (const [i, b] of [0, 0, 1, 2].entries()) {
      const batch = batches[b]!
      expect(attached[i]!.record).toBe(records[i])
      expect(attached[i]!.proof).toEqual({
        origin: node.origin,
        signature: batch.signature,
        digests: recordDigests(batch.records),
      })
      // What sync will check, record by record, long after the batch is gone.
      const checked = receiver.auth.checkProof(batch.realm, attached[i]!.proof)
      expect(checked !== undefined && receiver.auth.covers(checked, records[i]!)).toBe(true)
    }
    expect(attached[0]!.proof).toBe(attached[1]!.proof)
    expect(attached[1]!.proof).not.toBe(attached[2]!.proof)
  })

  it("publishes batches that verify as no one else's: not as another origin, not in another realm", async () => {
    const { publisher, sent } = setup()
    publisher.add(record('a', 1))
    publisher.flush()
    const [batch] = decoded(sent)
    expect(receiver.auth.verifyBatch('a', receiver.origin, batch!.records, batch!.signature)).toBeUndefined()
    expect(receiver.auth.verifyBatch('b', node.origin, batch!.records, batch!.signature)).toBeUndefined()
    await nextTurn()
  })

  it('refuses at construction a batch size that cannot hold the largest allowed record', () => {
    expect(() => setup({ maxBatchBytes: 1024 })).toThrow(RangeError)
    // The header holds the realm and the 64-byte signature.
    expect(() => setup({ maxBatchBytes: 1024, limits: { maxValueBytes: 448 } })).not.toThrow()
  })

  it('flush() publishes at once, and nothing is left for the next turn', async () => {
    const { publisher, sent } = setup()
    publisher.add(record('a', 1))
    publisher.add(record('b', 2))
    publisher.flush()
    expect(decoded(sent).map((b) => [b.realm, ids(b)])).toEqual([
      ['a', ['session-1']],
      ['b', ['session-2']],
    ])
    await nextTurn()
    expect(sent).toHaveLength(2)
    publisher.flush()
    expect(sent).toHaveLength(2)
  })

  it('counts failed publishes and reports the error', async () => {
    const failure = new Error('stream reset')
    const { publisher, counters, errors } = setup({}, async () => {
      throw failure
    })
    publisher.add(record('a', 1))
    publisher.flush()
    await nextTurn()
    expect(counters.publishErrors).toBe(1)
    expect(errors).toEqual([failure])
    expect(counters.publishedToNobody).toBe(0)
  })

  it('counts publishes that reached no peer', async () => {
    const { publisher, counters } = setup({}, async () => 0)
    publisher.add(record('a', 1))
    publisher.flush()
    publisher.add(record('a', 2))
    publisher.flush()
    await nextTurn()
    expect(counters.publishedToNobody).toBe(2)
    expect(counters.publishErrors).toBe(0)
    expect(counters.messagesPublished).toBe(2)
  })

  describe('with a flush interval', () => {
    it('sends a record after a quiet spell on the next turn, and packs the ones that follow until the interval has passed', async () => {
      const clock = new ManualClock(NOW)
      const { publisher, sent, counters } = setup({ flushIntervalMs: 5 }, undefined, clock)
      publisher.add(record('a', 1))
      await nextTurn()
      expect(decoded(sent).map(ids)).toEqual([['session-1']])

      // Each in a turn of its own, as a TLS server makes sessions: they wait for the interval.
      clock.advance(1)
      publisher.add(record('a', 2))
      await nextTurn()
      clock.advance(2)
      publisher.add(record('b', 3))
      await nextTurn()
      clock.advance(1)
      publisher.add(record('a', 4))
      await nextTurn()
      expect(sent).toHaveLength(1)
      clock.advance(1)
      expect(decoded(sent).map((b) => [b.realm, ids(b)])).toEqual([
        ['a', ['session-1']],
        ['a', ['session-2', 'session-4']],
        ['b', ['session-3']],
      ])
      expect(counters.messagesPublished).toBe(3)
      expect(counters.recordsPublished).toBe(4)

      // Quiet again for longer than the interval: the next record goes on the next turn.
      clock.advance(30)
      publisher.add(record('a', 5))
      await nextTurn()
      expect(decoded(sent).map(ids).at(-1)).toEqual(['session-5'])
      expect(clock.pending).toBe(0)
    })

    it('still sends a full batch at once, within the interval', async () => {
      const clock = new ManualClock(NOW)
      const { publisher, sent } = setup({ flushIntervalMs: 5, maxBatchRecords: 2 }, undefined, clock)
      publisher.add(record('a', 0))
      publisher.flush()
      for (let n = 1; n <= 3; n++) publisher.add(record('a', n))
      expect(decoded(sent).map(ids)).toEqual([['session-0'], ['session-1', 'session-2']])
      await nextTurn()
      expect(sent).toHaveLength(2)
      clock.advance(5)
      expect(decoded(sent).map(ids).at(-1)).toEqual(['session-3'])
    })

    it('flush() sends at once and cancels the pending timer', async () => {
      const clock = new ManualClock(NOW)
      const { publisher, sent } = setup({ flushIntervalMs: 5 }, undefined, clock)
      publisher.add(record('a', 0))
      publisher.flush()
      publisher.add(record('a', 1))
      expect(clock.pending).toBe(1)
      publisher.flush()
      expect(decoded(sent).map(ids)).toEqual([['session-0'], ['session-1']])
      expect(clock.pending).toBe(0)
      clock.advance(10)
      await nextTurn()
      expect(sent).toHaveLength(2)
    })

    it('starts the interval only with a batch sent: a flush() with nothing pending does not delay the next record', async () => {
      const clock = new ManualClock(NOW)
      const { publisher, sent } = setup({ flushIntervalMs: 5 }, undefined, clock)
      publisher.flush()
      publisher.add(record('a', 1))
      await nextTurn()
      expect(decoded(sent).map(ids)).toEqual([['session-1']])
      expect(clock.pending).toBe(0)
    })

    it('waits no longer than the interval when the clock steps back', async () => {
      const manual = new ManualClock(NOW)
      let offset = 0
      const clock: MeshClock = {
        now: () => manual.now() + offset,
        setTimer: (ms, fn) => manual.setTimer(ms, fn),
        clearTimer: (handle) => manual.clearTimer(handle),
      }
      const { publisher, sent } = setup({ flushIntervalMs: 5 }, undefined, clock)
      publisher.add(record('a', 0))
      publisher.flush()
      offset = -3_600_000
      publisher.add(record('a', 1))
      manual.advance(4)
      expect(sent).toHaveLength(1)
      manual.advance(1)
      expect(decoded(sent).map(ids)).toEqual([['session-0'], ['session-1']])
    })

    it('refuses an interval that is negative or not a number', () => {
      expect(() => setup({ flushIntervalMs: -1 })).toThrow(RangeError)
      expect(() => setup({ flushIntervalMs: Number.NaN })).toThrow(RangeError)
      expect(() => setup({ flushIntervalMs: 0 })).not.toThrow()
    })
  })
})
