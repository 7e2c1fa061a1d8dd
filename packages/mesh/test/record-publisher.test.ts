import type { SessionRecord } from '@tlsmesh/store'
import { decodeBatch, type RecordBatch, type WireLimits } from '@tlsmesh/wire'
import { describe, expect, it } from 'vitest'
import { MeshCounters } from '../src/mesh-metrics.ts'
import { RecordPublisher, type RecordPublisherInit } from '../src/record-publisher.ts'

const NOW = 1_700_000_000_000
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function record(realm: string, n: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    realm,
    id: bytes(`session-${n}`),
    value: bytes(`secret-${n}`),
    created: NOW + n,
    expires: NOW + n + 300_000,
    origin: 'node-1',
    ...overrides,
  }
}

interface Sent {
  realm: string
  data: Uint8Array
}

/** A publisher whose gossipsub edge records what it was given and answers with `recipients`. */
function setup(
  init: Partial<RecordPublisherInit> = {},
  answer: () => Promise<number> = async () => 3,
): { publisher: RecordPublisher; sent: Sent[]; counters: MeshCounters; errors: unknown[] } {
  const sent: Sent[] = []
  const errors: unknown[] = []
  const counters = new MeshCounters()
  const publisher = new RecordPublisher(
    { maxBatchBytes: 64 * 1024, maxBatchRecords: 256, ...init },
    {
      counters,
      publish: (realm, data) => {
        sent.push({ realm, data })
        return answer()
      },
      onError: (err) => errors.push(err),
    },
  )
  return { publisher, sent, counters, errors }
}

function decoded(sent: Sent[], limits?: Partial<WireLimits>): Array<{ topic: string } & RecordBatch> {
  return sent.map(({ realm, data }) => ({ topic: realm, ...decodeBatch(data, limits) }))
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

  it('refuses at construction a batch size that cannot hold the largest allowed record', () => {
    expect(() => setup({ maxBatchBytes: 1024 })).toThrow(RangeError)
    expect(() => setup({ maxBatchBytes: 1024, limits: { maxValueBytes: 512 } })).not.toThrow()
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
})
