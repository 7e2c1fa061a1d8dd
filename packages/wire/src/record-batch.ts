import { MaxLengthError } from 'protons-runtime'
import { SIGNATURE_BYTES, WIRE_VERSION, type WireLimits } from './constants.ts'
import { batchHeaderBytes, encodedRecordBytes } from './encoded-size.ts'
import {
  InvalidRealmError,
  InvalidRecordError,
  MalformedMessageError,
  MessageTooLargeError,
  TooManyRecordsError,
  UnsupportedVersionError,
  WireEncodeError,
} from './errors.ts'
import {
  RecordBatch as RecordBatchMessage,
  type WireRecord as WireRecordMessage,
} from './messages.generated.ts'
import { realmProblem, recordProblem, resolveLimits } from './validation.ts'

/** One replicated entry as it travels. A record without `value` is a tombstone. */
export interface WireRecord {
  id: Uint8Array
  value?: Uint8Array
  /** Absolute, ms since the unix epoch. */
  created: number
  /** Absolute, ms since the unix epoch; always after `created`. */
  expires: number
  /** Peer id of the node that created the record; absent in gossip, where the signer is the origin. */
  origin?: string
}

/** The payload of one gossip message: records of one realm, signed by their origin. */
export interface RecordBatch {
  realm: string
  records: WireRecord[]
  /**
   * The origin's Ed25519 signature over `manifestBytes(realm, origin, recordDigests(records))`
   * (`SIGNATURE_BYTES`).
   */
  signature: Uint8Array
}

const MAX_SAFE_TIME = BigInt(Number.MAX_SAFE_INTEGER)
// The encoder writes the version first (field 1, varint): tag byte 0x08.
const VERSION_TAG = 0x08

/**
 * Encodes a batch, refusing (WireEncodeError) anything `decodeBatch` with the same limits would refuse.
 */
export function encodeBatch(batch: RecordBatch, limits?: Partial<WireLimits>): Uint8Array {
  const resolved = resolveLimits(limits)
  const realm = realmProblem(batch.realm, resolved)
  if (realm !== undefined) throw new WireEncodeError('invalid-realm', realm)
  if (batch.signature.byteLength !== SIGNATURE_BYTES) {
    throw new WireEncodeError('invalid-record', `a signature is ${SIGNATURE_BYTES} bytes`)
  }
  if (batch.records.length > resolved.maxRecords) {
    throw new WireEncodeError(
      'too-many-records',
      `${batch.records.length} records, allowed ${resolved.maxRecords}`,
    )
  }
  for (const [index, record] of batch.records.entries()) {
    const problem = recordProblem(record, resolved)
    if (problem !== undefined) throw new WireEncodeError('invalid-record', `record ${index}: ${problem}`)
  }
  // Sized before encoding: the largest batch the other limits allow is tens of MiB.
  let size = batchHeaderBytes(batch.realm)
  for (const record of batch.records) size += encodedRecordBytes(record)
  if (size > resolved.maxMessageBytes) {
    throw new WireEncodeError('too-large', `message is ${size} bytes, allowed ${resolved.maxMessageBytes}`)
  }
  return encodeValidBatch(batch.realm, batch.records, batch.signature)
}

/** Encodes without checking: for callers that validated every part already. */
export function encodeValidBatch(
  realm: string,
  records: readonly WireRecord[],
  signature: Uint8Array,
): Uint8Array {
  return RecordBatchMessage.encode({
    version: WIRE_VERSION,
    realm,
    records: records.map((record) => toMessage(record)),
    signature: signature as Uint8Array<ArrayBuffer>,
  })
}

/**
 * Decodes and validates a batch. Every refusal is a WireDecodeError whose `code` says why; nothing
 * else escapes. The returned byte arrays are copies, so holding a record does not pin the message:
 * the records' ids and values share one allocation per batch, about their size.
 */
export function decodeBatch(bytes: Uint8Array, limits?: Partial<WireLimits>): RecordBatch {
  const resolved = resolveLimits(limits)
  checkSizeAndVersion(bytes, resolved.maxMessageBytes)

  let message: RecordBatchMessage
  try {
    message = RecordBatchMessage.decode(bytes, { limits: { records: resolved.maxRecords } })
  } catch (err) {
    if (err instanceof MaxLengthError) {
      throw new TooManyRecordsError(`more than ${resolved.maxRecords} records`)
    }
    throw new MalformedMessageError('not a protobuf record batch', { cause: err })
  }

  if (message.version === 0) throw new MalformedMessageError('no version')
  if (message.version !== WIRE_VERSION) {
    throw new UnsupportedVersionError(`version ${message.version}, supported ${WIRE_VERSION}`)
  }
  const realm = realmProblem(message.realm, resolved)
  if (realm !== undefined) throw new InvalidRealmError(realm)

  if (message.signature.byteLength !== SIGNATURE_BYTES) {
    throw new MalformedMessageError(`the signature is not ${SIGNATURE_BYTES} bytes`)
  }
  const records = message.records.map((record, index) => checkedRecord(record, index, resolved))
  detach(records)
  return { realm: message.realm, records, signature: new Uint8Array(message.signature) }
}

/**
 * Moves the records' ids and values out of the message into one allocation: a copy per field costs
 * an ArrayBuffer each (two per record, with their backing-store bookkeeping for the GC), and a
 * receiver copies records again as it stores them.
 */
export function detach(records: WireRecord[]): void {
  let size = 0
  for (const record of records) size += record.id.byteLength + (record.value?.byteLength ?? 0)
  const copy = new Uint8Array(size)
  let at = 0
  const take = (bytes: Uint8Array): Uint8Array => {
    copy.set(bytes, at)
    at += bytes.byteLength
    return copy.subarray(at - bytes.byteLength, at)
  }
  for (const record of records) {
    record.id = take(record.id)
    if (record.value !== undefined) record.value = take(record.value)
  }
}

export function toMessage(record: WireRecord, proof?: number): WireRecordMessage {
  return {
    id: record.id as Uint8Array<ArrayBuffer>,
    value: record.value as Uint8Array<ArrayBuffer> | undefined,
    created: BigInt(record.created),
    expires: BigInt(record.expires),
    origin: record.origin,
    proof,
  }
}

/** A decoded record, validated; its bytes are still views into the message. */
export function checkedRecord(
  message: WireRecordMessage,
  index: number,
  limits: Readonly<WireLimits>,
): WireRecord {
  if (message.created > MAX_SAFE_TIME || message.expires > MAX_SAFE_TIME) {
    throw new InvalidRecordError(`record ${index}: a time is beyond Number.MAX_SAFE_INTEGER`)
  }
  const record: WireRecord = {
    id: message.id,
    created: Number(message.created),
    expires: Number(message.expires),
  }
  if (message.value !== undefined) record.value = message.value
  if (message.origin !== undefined) record.origin = message.origin
  const problem = recordProblem(record, limits)
  if (problem !== undefined) throw new InvalidRecordError(`record ${index}: ${problem}`)
  return record
}

/** The version when the message starts with one, as our encoder writes it; undefined otherwise. */
/**
 * What every decoder checks before it parses: the size, before anything is allocated, and the
 * version, read ahead of the full decode so that a newer peer's message, which this build may not
 * parse, is reported as a version mismatch rather than as garbage.
 */
export function checkSizeAndVersion(bytes: Uint8Array, maxBytes: number): void {
  if (bytes.byteLength > maxBytes) {
    throw new MessageTooLargeError(`message is ${bytes.byteLength} bytes, allowed ${maxBytes}`)
  }
  const leading = leadingVersion(bytes)
  if (leading !== undefined && leading !== WIRE_VERSION) {
    throw new UnsupportedVersionError(`version ${leading}, supported ${WIRE_VERSION}`)
  }
}

export function leadingVersion(bytes: Uint8Array): number | undefined {
  if (bytes[0] !== VERSION_TAG) return undefined
  let value = 0
  // A uint32 varint is at most 5 bytes.
  for (let i = 1; i < 6 && i < bytes.byteLength; i++) {
    const byte = bytes[i]!
    value += (byte & 0x7f) * 2 ** (7 * (i - 1))
    if (byte < 0x80) return value
  }
  return undefined
}
