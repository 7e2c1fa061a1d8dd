/**
 * The JSON documents of the admin endpoint: the contract between tlsmeshd and its readers (the
 * `tlsmesh` CLI, probes, scripts). Types only; documented field by field in the README. A field
 * may be added in a minor version; none is renamed or removed without bumping `schema`.
 */
import type { MeshDegreeTargets, MeshStatus, PeerReport } from '@tlsmesh/mesh'

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

/** Key files for nginx or HAProxy (`--ticket-keys-dir`), since start. Names only, never key bytes. */
export interface TicketKeyFilesStatus {
  /** `<--ticket-keys-dir>/<realm>`. */
  dir: string
  format: 'nginx' | 'haproxy'
  /** nginx: the files written (`current.key`, `next.key`, `previous-N.key`), one `ssl_session_ticket_key` line each. */
  slots: number
  writes: number
  writeErrors: number
  /** Name of the encrypting key in the files, as of the last successful write; null before it. */
  current: string | null
  lastWriteAt: number | null
  /** Why the last write failed; null once one succeeds (a failed write is retried every few seconds). */
  lastWriteError: string | null
  /** `--on-ticket-keys` runs, and the ones that failed (non-zero exit, killed, timed out). */
  hookRuns: number
  hookFailures: number
  lastHook: { code: number | null; signal: string | null; timedOut: boolean; durationMs: number } | null
}

/** One realm's TLS session ticket keys (`--ticket-keys`). Key names are public (every ticket starts with one); keys never appear. */
export interface TicketKeysRealmStatus {
  /** The realm the keys travel in: `<realm>.tickets`. */
  keyRealm: string
  /** Holds the current key and, once due, the next one (what `/readyz` waits for). */
  ready: boolean
  /** Keys held: the current, the next, older ones still decrypting, replaced ones kept to decrypt. */
  held: number
  /** The key that encrypts now: its name (32 hex digits), period number, age and proposer. */
  current: { name: string; period: number; ageMs: number; origin: string } | null
  /** The next period's key, once distributed. */
  next: { name: string; period: number; startsInMs: number } | null
  rotationMs: number
  decryptLifetimeMs: number
  /** Since start: keys this node proposed (one node per period, normally). */
  proposed: number
  /** Since start: times the encrypting key changed (each rotation, the first key, a replaced one). */
  rotations: number
  /** Since start: keys held and then replaced by a competing proposal (a race, a healed partition). */
  replaced: number
  /** Key records of the wrong size at the last read (a peer's bug): ignored. */
  invalidRecords: number
  errors: number
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
