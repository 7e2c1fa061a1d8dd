import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { WIRE_VERSION } from '../src/constants.ts'
import { SyncMessage as SyncMessageCodec } from '../src/messages.generated.ts'
import { decodeSyncMessage, encodeSyncMessage, SyncKind, type SyncMessage } from '../src/sync-message.ts'

/** What protons writes for a message of ranges alone: the bytes the hand-written encoder must match. */
const protonsBytes = (message: SyncMessage): Uint8Array =>
  SyncMessageCodec.encode({
    version: WIRE_VERSION,
    kind: message.kind,
    realm: message.realm,
    ranges: message.ranges.map((range) => ({
      depth: range.depth,
      prefix: range.prefix,
      fingerprint: range.fingerprint,
      count: range.count,
      items: range.items ?? [],
      listed: range.items !== undefined,
    })),
    records: [],
    wanted: [],
    proofs: [],
  })

// Zero and the largest values of each field (protons leaves zeros out), and everything between.
const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 127n, 128n, 2n ** 53n, 2n ** 64n - 1n),
  fc.bigInt(0n, 2n ** 64n - 1n),
)
const u32 = fc.oneof(fc.constantFrom(0, 1, 127, 128, 2 ** 32 - 1), fc.nat())
// A prefix holds depth * 4 bits, as the decoder checks: at depth 16, any 64-bit value.
const range = fc.integer({ min: 0, max: 16 }).chain((depth) => {
  const top = 16n ** BigInt(depth) - 1n
  return fc.record(
    {
      depth: fc.constant(depth),
      prefix: fc.oneof(fc.constantFrom(0n, top, top / 2n), fc.bigInt(0n, top)),
      fingerprint: u64,
      count: u32,
      items: fc.array(fc.record({ key: u64, fingerprint: u64 }), { maxLength: 20 }),
    },
    { requiredKeys: ['depth', 'prefix', 'fingerprint', 'count'] },
  )
})

describe('encodeSyncMessage of ranges (written by hand, not by protons)', () => {
  it('writes the bytes protons writes, and decodes to the same ranges', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(SyncKind.QUERY, SyncKind.ANSWER),
        fc.array(range, { maxLength: 40 }),
        (kind, ranges) => {
          const message: SyncMessage = { kind, realm: 'web', ranges, records: [], proofs: [], wanted: [] }
          const encoded = encodeSyncMessage(message)
          expect(Buffer.from(encoded).equals(Buffer.from(protonsBytes(message)))).toBe(true)
          const decoded = decodeSyncMessage(encoded, { maxItemsPerRange: 20 })
          expect(decoded.ranges.map((r) => r.items)).toEqual(ranges.map((r) => r.items))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('tells an empty listed range from a bare one', () => {
    const message: SyncMessage = {
      kind: SyncKind.ANSWER,
      realm: 'web',
      ranges: [
        { depth: 1, prefix: 3n, fingerprint: 0n, count: 0, items: [] },
        { depth: 1, prefix: 4n, fingerprint: 9n, count: 500 },
      ],
      records: [],
      proofs: [],
      wanted: [],
    }
    const [listed, bare] = decodeSyncMessage(encodeSyncMessage(message)).ranges
    expect(listed?.items).toEqual([])
    expect(bare?.items).toBeUndefined()
  })

  it('keeps a message with ranges and other fields whole: ranges written after them decode the same', () => {
    const message: SyncMessage = {
      kind: SyncKind.RECORDS,
      realm: 'web',
      ranges: [{ depth: 2, prefix: 200n, fingerprint: 7n, count: 3, items: [{ key: 5n, fingerprint: 6n }] }],
      records: [],
      proofs: [],
      wanted: [1n, 2n ** 64n - 1n],
    }
    const decoded = decodeSyncMessage(encodeSyncMessage(message))
    expect(decoded.wanted).toEqual(message.wanted)
    expect(decoded.ranges).toEqual(message.ranges)
  })
})
