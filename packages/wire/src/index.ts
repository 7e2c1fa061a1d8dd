export { BatchBuilder } from './batch-builder.ts'
export { DEFAULT_LIMITS, WIRE_VERSION, type WireLimits } from './constants.ts'
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
