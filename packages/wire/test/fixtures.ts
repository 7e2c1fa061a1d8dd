import {
  type RecordBatch,
  SIGNATURE_BYTES,
  WIRE_VERSION,
  WireDecodeError,
  type WireRecord,
} from '../src/index.ts'
import {
  RecordBatch as RawBatch,
  type WireRecord as RawRecordFields,
  SyncMessage as RawSync,
  SyncKind,
} from '../src/messages.generated.ts'

export const NOW = 1_700_000_000_000

/** An Ed25519 peer id: what an origin looks like on the wire. */
export const ORIGIN = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

export function bytes(length: number, fill = 0xab): Uint8Array<ArrayBuffer> {
  return new Uint8Array(length).fill(fill)
}

/** A signature of the right length, for tests that are not about signing: the wire never checks it. */
export const SIGNATURE = bytes(SIGNATURE_BYTES, 0x5a)

/** What `decode` throws, which must be a WireDecodeError: the one way a decoder may refuse. */
export function refusal(decode: () => unknown): WireDecodeError {
  try {
    decode()
  } catch (err) {
    if (err instanceof WireDecodeError) return err
    throw new Error(`expected a WireDecodeError, got ${String(err)}`, { cause: err })
  }
  throw new Error('expected the decoder to throw')
}

export function record(fields: Partial<WireRecord> = {}): WireRecord {
  return { id: bytes(32, 1), value: bytes(100, 2), created: NOW, expires: NOW + 300_000, ...fields }
}

/** A batch with the fixed signature. */
export function batch(realm: string, records: WireRecord[]): RecordBatch {
  return { realm, records, signature: SIGNATURE }
}

export function rawRecord(fields: Partial<RawRecordFields> = {}): RawRecordFields {
  return {
    id: bytes(32, 1),
    value: bytes(100, 2),
    created: BigInt(NOW),
    expires: BigInt(NOW + 300_000),
    ...fields,
  }
}

/** Encodes straight through the generated codec, bypassing every check, to craft what a peer might send. */
export function rawBatch(fields: Partial<RawBatch> = {}): Uint8Array {
  return RawBatch.encode({
    version: WIRE_VERSION,
    realm: 'realm',
    records: [rawRecord()],
    signature: SIGNATURE,
    ...fields,
  })
}

/** A RECORDS sync message straight through the generated codec: one record and the proof it names. */
export function rawSync(fields: Partial<RawSync> = {}): Uint8Array {
  return RawSync.encode({
    version: WIRE_VERSION,
    kind: SyncKind.RECORDS,
    realm: 'realm',
    ranges: [],
    records: [rawRecord({ proof: 0 })],
    wanted: [],
    proofs: [{ origin: ORIGIN, signature: SIGNATURE, digests: bytes(16 * 3, 7) }],
    ...fields,
  })
}
