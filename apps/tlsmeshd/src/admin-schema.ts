/**
 * The JSON documents of the admin endpoint: the contract between tlsmeshd and its readers (the
 * `tlsmesh` CLI, probes, scripts). Types only; documented field by field in the README. A field
 * may be added in a minor version; none is renamed or removed without bumping `schema`.
 */
import type { MeshDegreeTargets, MeshStatus, PeerReport } from '@tlsmesh/mesh'
import type { TicketKeyFileFormat, TicketKeyFilesStats, TicketKeyStatus } from '@tlsmesh/ticket-keys'

export const STATUS_SCHEMA_VERSION = 1

export const READINESS_CODES = [
  'not-started',
  'no-peers',
  'no-mesh-peers',
  'catch-up-pending',
  'ticket-keys-pending',
  'ticket-key-files-pending',
] as const
export type ReadinessCode = (typeof READINESS_CODES)[number]

export interface ReadinessReason {
  code: ReadinessCode
  /** Set for `no-mesh-peers` and the ticket key codes. */
  realm?: string
  message: string
}

/** `GET /readyz`: 200 with `ready: true`, or 503 with the reasons. */
export interface Readiness {
  ready: boolean
  reasons: ReadinessReason[]
}

/** Counters of the memcached endpoint since start; null in `DaemonStatus` when it is not served. */
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

/**
 * Key files for nginx or HAProxy (`--ticket-keys-dir`), since start: the file sync's own counts
 * (writes, the key name in the files, hook runs), plus where and how the files are written.
 */
export type TicketKeyFilesStatus = TicketKeyFilesStats & {
  /** `<--ticket-keys-dir>/<realm>`. */
  dir: string
  format: TicketKeyFileFormat
  /** nginx: the files written (`current.key`, `next.key`, `previous-N.key`), one `ssl_session_ticket_key` line each. */
  slots: number
}

/**
 * One realm's TLS session ticket keys (`--ticket-keys`): the schedule's own status. Key names are
 * public (every ticket starts with one); keys never appear.
 */
export type TicketKeysRealmStatus = Omit<TicketKeyStatus, 'realm' | 'started'> & {
  files: TicketKeyFilesStatus | null
}

/** `GET /status`. */
export interface DaemonStatus extends MeshStatus {
  schema: typeof STATUS_SCHEMA_VERSION
  version: string
  /** Milliseconds since the epoch, on this node's clock, when the document was made. */
  time: number
  /** gossipsub's targets: mesh degree below `Dlo` means fewer paths than wanted. */
  meshDegree: MeshDegreeTargets
  /** The budget of each realm's replica. */
  replicaLimits: { maxBytesPerRealm: number; maxEntriesPerRealm: number }
  memcache: MemcacheStatus | null
  /** Seed addresses configured (0: this node waits to be found). */
  seeds: number
  logLevel: string
  /** Per realm of `--ticket-keys`; empty without. */
  ticketKeys: Record<string, TicketKeysRealmStatus>
  readiness: Readiness
}

/** `GET /peers`. */
export interface PeersDocument {
  schema: typeof STATUS_SCHEMA_VERSION
  peerId: string
  realms: string[]
  meshDegree: MeshDegreeTargets
  peers: PeerReport[]
}
