export * from './constants.ts'
export {
  InvalidIdError,
  InvalidOptionError,
  InvalidRealmError,
  NotOwnerError,
  RecordTooLargeError,
  TtlTooLongError,
  UnknownRealmError,
} from './errors.ts'
export { LocalSessionCache, type LocalSessionCacheInit } from './local-session-cache.ts'
export type { Logger } from './logger.ts'
export { isValidId, isValidOrigin, isValidRealm } from './record-validation.ts'
export {
  type ChangeReason,
  type ContestRule,
  compareVersions,
  createReplicaStore,
  payloadBytes,
  type RealmStats,
  type RecordSource,
  type RemovalReason,
  ReplicaStore,
  type ReplicaStoreInit,
  type ReplicaStoreLimits,
  type ReplicaStoreStats,
  type ReplicaWatcher,
  recordSize,
} from './replica-store.ts'
export type { SessionCache } from './session-cache.ts'
export type { MergeOutcome, RecordProof, SessionRecord } from './session-record.ts'
export { plainRecord, StoredRecord } from './stored-record.ts'
