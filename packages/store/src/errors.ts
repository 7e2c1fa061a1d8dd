/**
 * Refusals of the local cache API (`LocalSessionCache`). `ReplicaStore.merge` never throws these:
 * records from peers are refused by returning a `MergeOutcome`. Code and tests branch on `.name`,
 * metrics label on `.code`; messages never carry ids or values.
 */

/** Empty, longer than `MAX_REALM_LENGTH`, or outside `[A-Za-z0-9._-]`. */
export class InvalidRealmError extends Error {
  static override name = 'InvalidRealmError'
  override name = 'InvalidRealmError'
  readonly code = 'invalid-realm'
}

/** Empty, or longer than `MAX_ID_BYTES`. */
export class InvalidIdError extends Error {
  static override name = 'InvalidIdError'
  override name = 'InvalidIdError'
  readonly code = 'invalid-id'
}

/** The value is over the store's `maxValueBytes` (or the record over the realm's whole byte budget). */
export class RecordTooLargeError extends Error {
  static override name = 'RecordTooLargeError'
  override name = 'RecordTooLargeError'
  readonly code = 'too-large'
}

/** A TTL over the store's `maxTtlMs`, for callers that refuse instead of capping. */
export class TtlTooLongError extends Error {
  static override name = 'TtlTooLongError'
  override name = 'TtlTooLongError'
  readonly code = 'ttl-too-long'
}

/** A valid realm name that this store does not serve: not configured, or over `maxRealms`. */
export class UnknownRealmError extends Error {
  static override name = 'UnknownRealmError'
  override name = 'UnknownRealmError'
  readonly code = 'unknown-realm'
}

/** A `ReplicaStoreInit` / `LocalSessionCacheInit` field out of range; the message names the field. */
export class InvalidOptionError extends Error {
  static override name = 'InvalidOptionError'
  override name = 'InvalidOptionError'
  readonly code = 'invalid-option'
}

/** A live record of another origin holds the id: only a record's origin may replace or delete it. */
export class NotOwnerError extends Error {
  static override name = 'NotOwnerError'
  override name = 'NotOwnerError'
  readonly code = 'not-owner'
}
