import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LIMITS,
  decodeBatch,
  decodeSyncMessage,
  encodeBatch,
  encodeSyncMessage,
  RECORD_DIGEST_BYTES,
  type RecordBatch,
  type RecordProof,
  SIGNATURE_BYTES,
  SyncKind,
  type SyncMessage,
  WireDecodeError,
} from '../src/index.ts'

const MAX_TIME = Number.MAX_SAFE_INTEGER

const timesArb = fc
  .integer({ min: 1, max: MAX_TIME - 1 })
  .chain((created) =>
    fc.integer({ min: created + 1, max: MAX_TIME }).map((expires) => ({ created, expires })),
  )

const smallValueArb = fc.uint8Array({ maxLength: 300 })

const recordsOf = (value: fc.Arbitrary<Uint8Array>) =>
  fc
    .record(
      {
        id: fc.uint8Array({ minLength: 1, maxLength: DEFAULT_LIMITS.maxIdBytes }),
        value,
        times: timesArb,
        origin: fc.stringMatching(/^[A-Za-z0-9]{1,128}$/),
      },
      { requiredKeys: ['id', 'times'] },
    )
    .map(({ times, ...rest }) => ({ ...rest, ...times }))

const recordArb = recordsOf(
  fc.oneof(
    { weight: 9, arbitrary: smallValueArb },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 16_000, maxLength: DEFAULT_LIMITS.maxValueBytes }),
    },
  ),
)

const batchArb: fc.Arbitrary<RecordBatch> = fc.record({
  realm: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  records: fc.array(recordArb, { maxLength: 30 }),
  signature: fc.uint8Array({ minLength: SIGNATURE_BYTES, maxLength: SIGNATURE_BYTES }),
})

const proofArb: fc.Arbitrary<RecordProof> = fc.record({
  origin: fc.stringMatching(/^[A-Za-z0-9]{1,128}$/),
  signature: fc.uint8Array({ minLength: SIGNATURE_BYTES, maxLength: SIGNATURE_BYTES }),
  digests: fc
    .integer({ min: 1, max: 8 })
    .chain((n) => fc.uint8Array({ minLength: n * RECORD_DIGEST_BYTES, maxLength: n * RECORD_DIGEST_BYTES })),
})

const syncArb: fc.Arbitrary<SyncMessage> = fc
  .array(proofArb, { minLength: 1, maxLength: 4 })
  .chain((proofs) =>
    fc.record({
      kind: fc.constant(SyncKind.RECORDS),
      realm: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
      ranges: fc.constant([]),
      records: fc.array(
        fc
          // Small values: the batch properties cover the large ones, and sync decodes records alike.
          .tuple(recordsOf(smallValueArb), fc.nat(proofs.length - 1))
          .map(([{ origin: _, ...r }, proof]) => ({ ...r, origin: proofs[proof]!.origin, proof })),
        { maxLength: 10 },
      ),
      proofs: fc.constant(proofs),
      wanted: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 5 }),
    }),
  )

/** A few bytes of an encoding changed, inserted or removed: garbage that gets past the first byte. */
function damaged(encodings: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      encodings,
      fc.array(
        fc.record({
          kind: fc.constantFrom('set', 'insert', 'delete'),
          at: fc.nat(),
          byte: fc.integer({ min: 0, max: 255 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([encoded, edits]) => {
      const out = [...encoded]
      for (const { kind, at, byte } of edits) {
        const i = out.length === 0 ? 0 : at % out.length
        if (kind === 'set') out[i] = byte
        else if (kind === 'insert') out.splice(i, 0, byte)
        else out.splice(i, 1)
      }
      return Uint8Array.from(out)
    })
}

/** A property of a decoder: it refuses `input` with a WireDecodeError, or what it returns passes `check`. */
function decodesOrRefuses<T>(decode: (input: Uint8Array) => T, check: (decoded: T) => void) {
  return (input: Uint8Array): void => {
    let decoded: T
    try {
      decoded = decode(input)
    } catch (err) {
      expect(err).toBeInstanceOf(WireDecodeError)
      return
    }
    check(decoded)
  }
}

// Whatever decodes must be something we would send ourselves.
const batchDecodesOrRefuses = decodesOrRefuses(decodeBatch, (batch) => {
  expect(() => encodeBatch(batch)).not.toThrow()
})

describe('properties', () => {
  it('decode(encode(batch)) equals batch, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const encoded = encodeBatch(batch)
        const decoded = decodeBatch(encoded)
        expect(decoded).toEqual(batch)
        expect(encodeBatch(decoded)).toEqual(encoded)
      }),
      { numRuns: 300 },
    )
  })

  it('decodes arbitrary bytes to a valid batch or refuses them with a WireDecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), batchDecodesOrRefuses), { numRuns: 2000 })
  })

  it('decodes damaged encodings to a valid batch or refuses them with a WireDecodeError', () => {
    fc.assert(fc.property(damaged(batchArb.map((batch) => encodeBatch(batch))), batchDecodesOrRefuses), {
      numRuns: 2000,
    })
  })

  it('sync: decode(encode(message)) equals message, records with the proofs they name', () => {
    fc.assert(
      fc.property(syncArb, (message) => {
        expect(decodeSyncMessage(encodeSyncMessage(message))).toEqual(message)
      }),
      { numRuns: 200 },
    )
  })

  it('sync: decodes damaged encodings to a message that round-trips, or refuses them with a WireDecodeError', () => {
    fc.assert(
      fc.property(
        damaged(syncArb.map(encodeSyncMessage)),
        decodesOrRefuses(decodeSyncMessage, (message) => {
          expect(decodeSyncMessage(encodeSyncMessage(message))).toEqual(message)
        }),
      ),
      { numRuns: 500 },
    )
  })
})
