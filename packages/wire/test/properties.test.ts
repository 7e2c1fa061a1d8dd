import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, decodeBatch, encodeBatch, type RecordBatch, WireDecodeError } from '../src/index.ts'

const MAX_TIME = Number.MAX_SAFE_INTEGER

const timesArb = fc
  .integer({ min: 1, max: MAX_TIME - 1 })
  .chain((created) =>
    fc.integer({ min: created + 1, max: MAX_TIME }).map((expires) => ({ created, expires })),
  )

const recordArb = fc
  .record(
    {
      id: fc.uint8Array({ minLength: 1, maxLength: DEFAULT_LIMITS.maxIdBytes }),
      value: fc.oneof(
        { weight: 9, arbitrary: fc.uint8Array({ maxLength: 300 }) },
        {
          weight: 1,
          arbitrary: fc.uint8Array({ minLength: 16_000, maxLength: DEFAULT_LIMITS.maxValueBytes }),
        },
      ),
      times: timesArb,
      origin: fc.stringMatching(/^[A-Za-z0-9]{1,128}$/),
    },
    { requiredKeys: ['id', 'times'] },
  )
  .map(({ times, ...rest }) => ({ ...rest, ...times }))

const batchArb: fc.Arbitrary<RecordBatch> = fc.record({
  realm: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  records: fc.array(recordArb, { maxLength: 30 }),
})

/** A valid encoding with a few bytes changed, inserted or removed: garbage that gets past the first byte. */
const mutatedArb = fc
  .tuple(
    batchArb.map((batch) => encodeBatch(batch)),
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

function decodesOrRefuses(input: Uint8Array): void {
  let batch: RecordBatch
  try {
    batch = decodeBatch(input)
  } catch (err) {
    expect(err).toBeInstanceOf(WireDecodeError)
    return
  }
  // Whatever decodes must be something we would send ourselves.
  expect(() => encodeBatch(batch)).not.toThrow()
}

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
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), decodesOrRefuses), { numRuns: 2000 })
  })

  it('decodes damaged encodings to a valid batch or refuses them with a WireDecodeError', () => {
    fc.assert(fc.property(mutatedArb, decodesOrRefuses), { numRuns: 2000 })
  })
})
