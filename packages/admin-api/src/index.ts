export {
  DaemonUnreachableError,
  defaultAdmin,
  fetchAdminJson,
  MAX_ADMIN_ANSWER_BYTES,
  type UnreachableReason,
} from './admin-client.ts'
export { ADMIN_API_VERSION, ADMIN_API_VERSION_HEADER, ADMIN_PATHS, type AdminPath } from './contract.ts'
export { AdminApiVersionError, fetchPeers, fetchStatus } from './fetch-documents.ts'
export type { PeerConnectionEntry, PeerEntry, PeersDocument } from './peers-document.ts'
export { READINESS_CODES, type Readiness, type ReadinessCode, type ReadinessReason } from './readiness.ts'
export type {
  BroadcastRealmStatus,
  BroadcastStatus,
  DaemonStatus,
  GossipRefusalCode,
  MemcacheStatus,
  MeshDegreeTargets,
  PropagationStatus,
  RealmStatus,
  RecordCounts,
  ReplicaLimits,
  ReplicaStatus,
  SyncResult,
  SyncStatus,
} from './status-document.ts'
export type {
  CurrentTicketKey,
  NextTicketKey,
  TicketKeyFilesStatus,
  TicketKeyHookRun,
  TicketKeysRealmStatus,
} from './ticket-keys-status.ts'
