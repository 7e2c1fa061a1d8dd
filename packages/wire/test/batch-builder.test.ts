import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BatchBuilder,
  DEFAULT_LIMITS,
  decodeBatch,
  encodeBatch,
  SIGNATURE_BYTES,
  WireEncodeError,
  type WireLimits,
  type WireRecord,
} from '../src/index.ts'
import { batch, bytes, NOW, record, SIGNATURE } from './fixtures.ts'

function sizeOf(realm: string, records: WireRecord[]): number {
  return encodeBatch(batch(realm, records), { maxRecords: Number.MAX_SAFE_INTEGER, maxMessageBytes: 2 ** 40 })
    .byteLength
}

describe('BatchBuilder', () => {
  it('starts empty, and an empty batch decodes', () => {
    const builder = new BatchBuilder('r')
    expect(builder.count).toBe(0)
    expect(builder.size).toBe(builder.build(SIGNATURE).byteLength)
    expect(decodeBatch(builder.build(SIGNATURE))).toEqual(batch('r', []))
  })

  it('knows the exact size after every add', () => {
    const builder = new BatchBuilder('realm')
    const added: WireRecord[] = []
    for (const r of [
      record(),
      record({ value: undefined }),
      record({ origin: 'peer' }),
      record({ value: bytes(DEFAULT_LIMITS.maxValueBytes) }),
      record({ id: bytes(DEFAULT_LIMITS.maxIdBytes), created: 1, expires: Number.MAX_SAFE_INTEGER }),
    ]) {
      expect(builder.add(r)).toBe(true)
      added.push(r)
      const built = builder.build(SIGNATURE)
      expect(builder.size).toBe(built.byteLength)
      expect(builder.count).toBe(added.length)
      expect(decodeBatch(built)).toEqual(batch('realm', added))
    }
  })

  it('exposes the records a signature must cover, in order, until reset', () => {
    const builder = new BatchBuilder('r')
    const first = record({ id: bytes(4, 1) })
    const second = record({ id: bytes(4, 2), value: undefined })
    builder.add(first)
    builder.add(second)
    expect(builder.records).toEqual([first, second])
    const signature = bytes(SIGNATURE_BYTES, 9)
    expect(decodeBatch(builder.build(signature))).toEqual({ realm: 'r', records: [first, second], signature })
    builder.reset()
    expect(builder.records).toEqual([])
  })

  it.each([0, 1, SIGNATURE_BYTES - 1, SIGNATURE_BYTES + 1])(
    'refuses to build with a %i-byte signature',
    (n) => {
      const builder = new BatchBuilder('r')
      builder.add(record())
      expect(() => builder.build(bytes(n))).toThrow(
        expect.objectContaining({ name: 'WireEncodeError', code: 'invalid-record' }),
      )
    },
  )

  it('fills a batch to exactly maxMessageBytes and no further', () => {
    const r = record()
    const perRecord = sizeOf('r', [r]) - sizeOf('r', [])
    const maxMessageBytes = sizeOf('r', []) + 10 * perRecord
    const builder = new BatchBuilder('r', { maxMessageBytes, maxValueBytes: 100, maxOriginBytes: 10 })
    for (let i = 0; i < 10; i++) expect(builder.add(r)).toBe(true)
    expect(builder.size).toBe(maxMessageBytes)
    expect(builder.add(record({ id: bytes(1), value: undefined, created: 1, expires: 2 }))).toBe(false)
    expect(builder.count).toBe(10)
    expect(builder.build(SIGNATURE).byteLength).toBe(maxMessageBytes)
    expect(decodeBatch(builder.build(SIGNATURE), { maxMessageBytes }).records).toHaveLength(10)
  })

  it('stops at maxRecords', () => {
    const builder = new BatchBuilder('r', { maxRecords: 3 })
    for (let i = 0; i < 3; i++) expect(builder.add(record())).toBe(true)
    expect(builder.add(record())).toBe(false)
    expect(builder.count).toBe(3)
    expect(decodeBatch(builder.build(SIGNATURE), { maxRecords: 3 }).records).toHaveLength(3)
  })

  it('starts over after reset, and a refused record fits an empty builder', () => {
    const builder = new BatchBuilder('r', { maxMessageBytes: 40_000 })
    const big = record({ value: bytes(DEFAULT_LIMITS.maxValueBytes) })
    expect(builder.add(big)).toBe(true)
    expect(builder.add(big)).toBe(true)
    expect(builder.add(big)).toBe(false)
    const emptySize = new BatchBuilder('r').size
    builder.reset()
    expect(builder.count).toBe(0)
    expect(builder.size).toBe(emptySize)
    expect(decodeBatch(builder.build(SIGNATURE)).records).toEqual([])
    expect(builder.add(big)).toBe(true)
    expect(decodeBatch(builder.build(SIGNATURE)).records).toEqual([big])
  })

  it('refuses a realm or a record that no peer would accept', () => {
    expect(() => new BatchBuilder('a b')).toThrow(WireEncodeError)
    const builder = new BatchBuilder('r')
    for (const bad of [
      record({ id: new Uint8Array(0) }),
      record({ value: bytes(DEFAULT_LIMITS.maxValueBytes + 1) }),
      record({ expires: NOW }),
      record({ origin: 'not a peer id' }),
    ]) {
      expect(() => builder.add(bad)).toThrow(
        expect.objectContaining({ name: 'WireEncodeError', code: 'invalid-record' }),
      )
    }
    expect(builder.count).toBe(0)
  })

  it('refuses limits under which the largest record fits no batch', () => {
    expect(() => new BatchBuilder('r', { maxMessageBytes: 16 * 1024 })).toThrow(/maxMessageBytes/)
    expect(() => new BatchBuilder('r', { maxMessageBytes: 1024, maxValueBytes: 512 })).not.toThrow()
  })

  it('holds a largest record exactly at the smallest maxMessageBytes it accepts', () => {
    const limits: Partial<WireLimits> = {
      maxIdBytes: 40,
      maxValueBytes: 300,
      maxOriginBytes: 20,
      maxRealmBytes: 8,
    }
    const largest = record({
      id: bytes(40),
      value: bytes(300),
      created: Number.MAX_SAFE_INTEGER - 1,
      expires: Number.MAX_SAFE_INTEGER,
      origin: 'o'.repeat(20),
    })
    const needed = sizeOf('realm', [largest])
    expect(() => new BatchBuilder('realm', { ...limits, maxMessageBytes: needed - 1 })).toThrow(RangeError)
    const builder = new BatchBuilder('realm', { ...limits, maxMessageBytes: needed })
    expect(builder.add(largest)).toBe(true)
    expect(builder.size).toBe(needed)
  })

  it('never builds past its caps, and refuses only what does not fit (property)', () => {
    const recordArb = fc
      .record(
        {
          // Lengths around the varint steps at 128 and 16384 bytes.
          id: fc.integer({ min: 1, max: 250 }).map((n) => bytes(n)),
          value: fc
            .oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 16_000, max: 16_384 }))
            .map((n) => bytes(n)),
          created: fc.oneof(fc.integer({ min: 1, max: 2 ** 21 }), fc.integer({ min: 1, max: 2 ** 52 })),
          ttl: fc.integer({ min: 1, max: 2 ** 52 }),
          origin: fc.stringMatching(/^[A-Za-z0-9]{1,128}$/),
        },
        { requiredKeys: ['id', 'created', 'ttl'] },
      )
      .map(({ ttl, ...r }): WireRecord => ({ ...r, expires: r.created + ttl }))
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 40 }),
        fc.integer({ min: 17_000, max: 120_000 }),
        fc.integer({ min: 1, max: 30 }),
        (records, maxMessageBytes, maxRecords) => {
          const builder = new BatchBuilder('realm', { maxMessageBytes, maxRecords })
          const added: WireRecord[] = []
          for (const r of records) {
            if (builder.add(r)) {
              added.push(r)
            } else {
              const wouldBe = sizeOf('realm', [...added, r])
              expect(added.length === maxRecords || wouldBe > maxMessageBytes).toBe(true)
              expect(builder.build(SIGNATURE).byteLength).toBe(builder.size)
              builder.reset()
              added.length = 0
              expect(builder.add(r)).toBe(true)
              added.push(r)
            }
            expect(builder.size).toBe(sizeOf('realm', added))
            expect(builder.size).toBeLessThanOrEqual(maxMessageBytes)
          }
          const built = builder.build(SIGNATURE)
          expect(built.byteLength).toBe(builder.size)
          expect(decodeBatch(built, { maxMessageBytes, maxRecords }).records).toEqual(added)
        },
      ),
      { numRuns: 200 },
    )
  })
})
