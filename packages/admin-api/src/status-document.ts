import type { ADMIN_API_VERSION } from './contract.ts'
import type { Readiness } from './readiness.ts'
import type { TicketKeysRealmStatus } from './ticket-keys-status.ts'

/** gossipsub's mesh degree targets: it grafts below `Dlo`, prunes above `Dhi`, aiming at `D`. */
export interface MeshDegreeTargets {
  D: number
  Dlo: number
  Dhi: number
}

/** One realm as this node serves it. */
export interface RealmStatus {
  /** Peers in the realm's gossip mesh (below `Dlo`: fewer paths than wanted). */
  meshPeers: number
  /** Connected peers subscribed to the realm. */
  subscribers: number
  /** Records held for the realm, and their accounted bytes. */
  entries: number
  bytes: number
}

/** The whole replica, every realm together. */
export interface ReplicaStatus {
  entries: number
  /** Accounted bytes, as the budget counts them. */
  bytes: number
  /** Since start: records dropped for the byte or entry budget, and records that expired. */
  evictions: number
  expirations: number
}

/** The budget of each realm's replica (`--replica-max-bytes`, `--replica-max-entries`). */
export interface ReplicaLimits {
  maxBytesPerRealm: number
  maxEntriesPerRealm: number
}

/** Why a gossip message was ignored or rejected: the keys of `RecordCounts.refused`. */
export type GossipRefusalCode =
  | 'malformed'
  | 'too-large'
  | 'too-many-records'
  | 'unsupported-version'
  | 'invalid-record'
  | 'invalid-realm'
  | 'wrong-topic'
  | 'unsigned'
  | 'bad-signature'
  | 'origin-not-allowed'
  | 'not-owner'
  | 'ttl-too-long'
  | 'from-future'
  | 'nothing-new'
  | 'internal'

/** Records and gossip messages since start. */
export interface RecordCounts {
  /** Records this node sent. */
  published: number
  received: number
  /** Records that changed the replica. */
  stored: number
  messagesPublished: number
  messagesReceived: number
  /** Gossip messages rejected (the sender is penalised) and ignored. */
  rejected: number
  ignored: number
  /** Gossip messages ignored or rejected, by reason; a reason never seen is absent. */
  refused: Partial<Record<GossipRefusalCode, number>>
  /** Records that arrived older than the clock-skew window. */
  clockSkewSuspected: number
}

/**
 * Receipt time minus the record's created time over recent records: includes the clock skew
 * between nodes.
 */
export interface PropagationStatus {
  samples: number
  /** Milliseconds; null without samples. */
  p50: number | null
  p99: number | null
}

/** How a catch-up reconciliation this node started ended. */
export interface SyncResult {
  /** The peer reconciled with. */
  peer: string
  durationMs: number
  /** Query rounds it took. */
  rounds: number
  /** Records this node sent, and received. */
  pushed: number
  pulled: number
  /** Key ranges that differed, over all rounds. */
  differingRanges: number
}

/** Catch-up (anti-entropy) since start. */
export interface SyncStatus {
  /** Reconciliations this node started, and how they ended. */
  started: number
  succeeded: number
  failed: number
  /** Of those, the ones the peer declined (it was running one of its own): not failures, retried. */
  declinedByPeer: number
  /** Reconciliations peers started with this node, those of them that ran to the end, and those it
   * declined while it ran one of its own. */
  served: number
  servedCompleted: number
  declined: number
  recordsPulled: number
  recordsPushed: number
  bytesSent: number
  bytesReceived: number
  /** A reconciliation this node started is under way. */
  running: boolean
  /** Ms since the epoch of the last one that ended; null before the first. */
  lastSyncAt: number | null
  lastResult: SyncResult | null
}

/** One realm's broadcast tree. */
export interface BroadcastRealmStatus {
  /** Neighbours sent whole batches, and neighbours sent only announcements. */
  eagerPeers: number
  lazyPeers: number
  /** How long an announced batch is awaited before it is asked for (adapts to late arrivals). */
  graftTimeoutMs: number
}

/** The broadcast tree since start, every realm together (per realm: `realms`). */
export interface BroadcastStatus {
  /** Batches this node originated, and the copies it sent of them. */
  originated: number
  originPayloadsSent: number
  payloadsSent: number
  payloadsReceived: number
  /** Copies not sent down an eager link because the neighbour had announced the batch. */
  payloadsSpared: number
  /** Relays each batch's first copy came through; over `payloadsReceived`, the tree's mean depth. */
  relaysBeforeArrival: number
  duplicates: number
  idsAnnounced: number
  graftsSent: number
  /** Asked-for batches this node no longer held. */
  graftMisses: number
  prunesSent: number
  sendFailures: number
  /** Announced batches no neighbour delivered: left to catch-up. */
  missingAbandoned: number
  /** Announcements not tracked because too many were awaited already. */
  announcementsDropped: number
  /** Asked-for batches not sent because one request asked for more than a repair ever does. */
  graftIdsRefused: number
  /** Requests to become an eager link declined: this node had its most eager links. */
  graftsDeclined: number
  /** Eager links made lazy because this node had too many. */
  linksShed: number
  realms: Record<string, BroadcastRealmStatus>
  /** Frames dropped because a neighbour's queue was full. */
  framesDropped: number
  /** Frames that could not be decoded, and batches whose origin's signature did not verify. */
  badFrames: number
  badSignatures: number
  /** Links whose stream closed while the peer stayed connected. */
  linksReopened: number
}

/** The memcached endpoint since start; null in `DaemonStatus` when it is not served. */
export interface MemcacheStatus {
  realm: string
  /** Keys looked up by get/gets/gat/gats. */
  lookups: number
  hits: number
  misses: number
  /** Commands of every kind, both protocols. */
  commands: number
  connections: number
  errors: number
}

/** `GET /status`: the node, for operators (`tlsmesh status`, `tlsmesh watch`) and scripts. */
export interface DaemonStatus {
  schema: typeof ADMIN_API_VERSION
  /** tlsmeshd's version. */
  version: string
  /** Milliseconds since the epoch, on this node's clock, when the document was made. */
  time: number
  /** This node's peer id (for `--seed .../p2p/<id>` and `--allow-peer`). */
  peerId: string
  meshName: string
  /** Multiaddrs with `/p2p/<id>`: `listenAddrs[0]` seeds other nodes. */
  listenAddrs: string[]
  /** Connected peers: how many, and their ids. */
  connectedPeers: number
  peers: string[]
  realms: Record<string, RealmStatus>
  replica: ReplicaStatus
  records: RecordCounts
  propagationMs: PropagationStatus
  sync: SyncStatus
  /** Null when the node disseminates on gossipsub only. */
  broadcast: BroadcastStatus | null
  /** Since the mesh started; 0 before. */
  uptimeMs: number
  meshDegree: MeshDegreeTargets
  replicaLimits: ReplicaLimits
  memcache: MemcacheStatus | null
  /** Seed addresses configured (0: this node waits to be found). */
  seeds: number
  /** The log level in force (after any SIGHUP). */
  logLevel: string
  /** The mesh's transport runs on a thread of its own (`--transport-thread`). */
  transportThread: boolean
  /** Per realm of `--ticket-keys`; empty without. */
  ticketKeys: Record<string, TicketKeysRealmStatus>
  /** What `/readyz` answers. */
  readiness: Readiness
}
