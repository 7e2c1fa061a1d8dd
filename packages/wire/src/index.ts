export { BatchBuilder } from './batch-builder.ts'
export {
  BROADCAST_ID_BYTES,
  type BroadcastFrame,
  BroadcastKind,
  type BroadcastLimits,
  DEFAULT_BROADCAST_LIMITS,
  decodeBroadcastFrame,
  encodeBroadcastFrame,
} from './broadcast-frame.ts'
export { DEFAULT_LIMITS, SIGNATURE_BYTES, WIRE_VERSION, type WireLimits } from './constants.ts'
export { batchHeaderBytes, encodedRecordBytes } from './encoded-size.ts'
export {
  InvalidRealmError,
  InvalidRecordError,
  MalformedMessageError,
  MessageTooLargeError,
  TooManyRecordsError,
  UnsupportedVersionError,
  WIRE_DECODE_ERROR_CODES,
  WireDecodeError,
  type WireDecodeErrorCode,
  WireEncodeError,
  type WireEncodeErrorCode,
} from './errors.ts'
export { decodeBatch, encodeBatch, type RecordBatch, type WireRecord } from './record-batch.ts'
export { manifestBytes, RECORD_DIGEST_BYTES, recordDigest, recordDigests } from './record-digest.ts'
export {
  DEFAULT_SYNC_LIMITS,
  decodeSyncMessage,
  encodeSyncMessage,
  MAX_SYNC_DEPTH,
  type ProvenWireRecord,
  type RecordProof,
  resolveSyncLimits,
  SyncKind,
  type SyncLimits,
  type SyncMessage,
  type SyncRange,
} from './sync-message.ts'
export { SESSION_PROOF_BYTES, SyncProofTable } from './sync-proof-table.ts'
