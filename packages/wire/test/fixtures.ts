import type { WireRecord } from '../src/index.ts'
import { RecordBatch as RawBatch, type WireRecord as RawRecordFields } from '../src/messages.generated.ts'

export const NOW = 1_700_000_000_000

export function bytes(length: number, fill = 0xab): Uint8Array<ArrayBuffer> {
  return new Uint8Array(length).fill(fill)
}

export function record(fields: Partial<WireRecord> = {}): WireRecord {
  return { id: bytes(32, 1), value: bytes(100, 2), created: NOW, expires: NOW + 300_000, ...fields }
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
  return RawBatch.encode({ version: 1, realm: 'realm', records: [rawRecord()], ...fields })
}
