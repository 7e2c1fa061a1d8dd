/** Every reason `decodeBatch` refuses a message: bounded, so it can label a metric. */
export const WIRE_DECODE_ERROR_CODES = [
  'too-large',
  'malformed',
  'unsupported-version',
  'too-many-records',
  'invalid-record',
  'invalid-realm',
] as const

export type WireDecodeErrorCode = (typeof WIRE_DECODE_ERROR_CODES)[number]

/**
 * Anything `decodeBatch` throws. Messages carry sizes and positions only, never peer-supplied bytes,
 * so they are safe to log.
 */
export abstract class WireDecodeError extends Error {
  static override name = 'WireDecodeError'
  override name = 'WireDecodeError'
  abstract readonly code: WireDecodeErrorCode
}

export class MessageTooLargeError extends WireDecodeError {
  static override name = 'MessageTooLargeError'
  override name = 'MessageTooLargeError'
  readonly code = 'too-large'
}

/** Not a protobuf encoding of a batch (truncated, garbage, a missing version). */
export class MalformedMessageError extends WireDecodeError {
  static override name = 'MalformedMessageError'
  override name = 'MalformedMessageError'
  readonly code = 'malformed'
}

/** Well-formed enough to carry a version, and not ours: likely a peer ahead of us in a rolling upgrade. */
export class UnsupportedVersionError extends WireDecodeError {
  static override name = 'UnsupportedVersionError'
  override name = 'UnsupportedVersionError'
  readonly code = 'unsupported-version'
}

export class TooManyRecordsError extends WireDecodeError {
  static override name = 'TooManyRecordsError'
  override name = 'TooManyRecordsError'
  readonly code = 'too-many-records'
}

export class InvalidRecordError extends WireDecodeError {
  static override name = 'InvalidRecordError'
  override name = 'InvalidRecordError'
  readonly code = 'invalid-record'
}

export class InvalidRealmError extends WireDecodeError {
  static override name = 'InvalidRealmError'
  override name = 'InvalidRealmError'
  readonly code = 'invalid-realm'
}

export type WireEncodeErrorCode = 'too-large' | 'too-many-records' | 'invalid-record' | 'invalid-realm'

/**
 * The caller asked to send something a peer would refuse. Thrown rather than sent because a refused
 * message lowers our score with every peer that receives it.
 */
export class WireEncodeError extends Error {
  static override name = 'WireEncodeError'
  override name = 'WireEncodeError'
  readonly code: WireEncodeErrorCode

  constructor(code: WireEncodeErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
