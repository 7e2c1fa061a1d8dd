// Must stay the first import: libp2p needs Promise.withResolvers, which Node 20 lacks.
import './promise-with-resolvers.ts'

export { BROADCAST_PROTOCOL } from './broadcast/broadcast-service.ts'
export type { BroadcastStats } from './broadcast/broadcast-stats.ts'
export {
  type DeliveryVerdict,
  type GossipPayload,
  messageIdOf,
  type OutboundFrame,
  Plumtree,
  type PlumtreeComponents,
  type PlumtreeInit,
  type PlumtreeStats,
} from './broadcast/plumtree.ts'
export { type MeshClock, realClock, repeat, type TimerHandle } from './clock.ts'
export * from './constants.ts'
export {
  GossipValidationError,
  InvalidIdentityError,
  InvalidMeshKeyError,
  KeyFilePermissionsError,
  MeshNotStartedError,
  type ValidationAction,
  type ValidationCode,
} from './errors.ts'
export { loadOrCreateIdentity } from './identity.ts'
export { generateMeshKey, type KeyFileInit, parseMeshKey, readMeshKeyFile } from './mesh-key.ts'
export type { GossipOptions } from './mesh-libp2p.ts'
export type { MeshCounters } from './mesh-metrics.ts'
export {
  createMeshNode,
  type MeshNode,
  type MeshNodeComponents,
  type MeshNodeInit,
} from './mesh-node.ts'
export type { MeshStatus, RealmStatus } from './mesh-status.ts'
export { PEER_EXCHANGE_PROTOCOL } from './peer-exchange.ts'
export type { PeerLostReason } from './peer-membership-log.ts'
export type {
  MeshDegreeTargets,
  PeerConnectionReport,
  PeerReport,
  PeerReportResult,
} from './peer-report.ts'
export {
  createPreKeyAdmission,
  PreKeyAdmission,
  type PreKeyAdmissionInit,
  type PreKeyRefusal,
  PreKeyRefusedError,
} from './pre-key-admission.ts'
export {
  createPrivateNetworkProtector,
  KeystreamExhaustedError,
  PrivateNetworkHandshakeError,
  PrivateNetworkKeyMismatchError,
} from './private-network.ts'
export { type CheckedProof, RecordAuthenticator, type SignedRecords } from './record-auth.ts'
export { type RedialBackoff, redialDelay } from './redial-backoff.ts'
export {
  type HostResolver,
  InvalidSeedError,
  parseSeed,
  resolveSeed,
  type SeedAddress,
  systemResolver,
} from './seed-address.ts'
export {
  createSeedDialer,
  type SeedDialer,
  type SeedDialerComponents,
  type SeedDialerInit,
} from './seed-dialer.ts'
export { SYNC_PROTOCOL, type SyncStats } from './sync/sync-service.ts'
export { realmTopic } from './topics.ts'
