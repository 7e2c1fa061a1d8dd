import { SIGNATURE_BYTES, type WireLimits } from './constants.ts'
import type { WireRecord } from './record-batch.ts'

// Encoded sizes, computed rather than measured so that a batch can be sized without encoding it.
// They mirror protons' encoder for validated input: every field number is below 16, so every
// tag is one byte; realm and origin are ASCII (validated), so their length is their byte length; a
// proto3 scalar at its default (0, empty) is not written, which validation rules out for every field
// but `value`, whose presence is explicit.

/** Version (tag, varint) then realm and signature: the size of a signed batch without records. */
export function batchHeaderBytes(realm: string): number {
  return 2 + lengthDelimitedBytes(realm.length) + lengthDelimitedBytes(SIGNATURE_BYTES)
}

/** What one record adds to a batch: its tag, length and body. */
export function encodedRecordBytes(record: WireRecord): number {
  return lengthDelimitedBytes(recordBodyBytes(record))
}

function recordBodyBytes(record: WireRecord): number {
  let bytes = lengthDelimitedBytes(record.id.byteLength)
  if (record.value !== undefined) bytes += lengthDelimitedBytes(record.value.byteLength)
  bytes += 1 + varintBytes(record.created)
  bytes += 1 + varintBytes(record.expires)
  if (record.origin !== undefined) bytes += lengthDelimitedBytes(record.origin.length)
  return bytes
}

/** The largest record allowed under `limits`, which a batch must be able to hold. */
export function largestRecordBytes(limits: Readonly<WireLimits>): number {
  const time = 1 + varintBytes(Number.MAX_SAFE_INTEGER)
  return lengthDelimitedBytes(
    lengthDelimitedBytes(limits.maxIdBytes) +
      lengthDelimitedBytes(limits.maxValueBytes) +
      2 * time +
      lengthDelimitedBytes(limits.maxOriginBytes),
  )
}

function lengthDelimitedBytes(length: number): number {
  return 1 + varintBytes(length) + length
}

/** Length of a non-negative safe integer as a varint; division because bit operators stop at 32 bits. */
function varintBytes(value: number): number {
  let bytes = 1
  while (value >= 128) {
    value = Math.floor(value / 128)
    bytes++
  }
  return bytes
}
