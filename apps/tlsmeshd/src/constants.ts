import { DEFAULT_MAX_BYTES_PER_REALM, DEFAULT_MAX_ENTRIES_PER_REALM } from '@tlsmesh/store'
import {
  DEFAULT_DECRYPT_LIFETIME_MS,
  DEFAULT_ROTATION_MS,
  MIN_ROTATION_MS,
  type TicketKeyFileFormat,
} from '@tlsmesh/ticket-keys'

export const DEFAULT_ADMIN = '127.0.0.1:7646'
export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/7645'
export const DEFAULT_REALM = 'default'
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'
/** `auto`: human-readable lines when stdout is a terminal, JSON otherwise (journald, files, pipes). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
export const DEFAULT_LOG_FORMAT: LogFormat = 'auto'

/** Per realm, as the store's defaults: 64 MiB holds ~100k TLS 1.2 sessions of ~200 bytes plus overhead. */
export const DEFAULT_REPLICA_MAX_BYTES = DEFAULT_MAX_BYTES_PER_REALM
export const DEFAULT_REPLICA_MAX_ENTRIES = DEFAULT_MAX_ENTRIES_PER_REALM
/** Bounds on the replica budget an operator may set: below 1 MiB a realm holds too few sessions to help. */
export const MIN_REPLICA_MAX_BYTES = 1024 * 1024
export const MAX_REPLICA_MAX_BYTES = 16 * 1024 * 1024 * 1024
export const MAX_REPLICA_MAX_ENTRIES = 100_000_000

/**
 * Ticket keys: the library's defaults (hourly rotation, 12 h of decryption after it; see
 * packages/ticket-keys/src/constants.ts for why), and bounds on what an operator may set. A key
 * (and so a ticket) must not outlive TLS 1.3's longest ticket lifetime, 7 days (RFC 8446 4.6.1):
 * a larger value is a typo, not a policy.
 */
export const DEFAULT_TICKET_KEY_ROTATION_MS = DEFAULT_ROTATION_MS
export const DEFAULT_TICKET_KEY_LIFETIME_MS = DEFAULT_DECRYPT_LIFETIME_MS
export const MIN_TICKET_KEY_ROTATION_MS = MIN_ROTATION_MS
export const MAX_TICKET_KEY_DURATION_MS = 7 * 24 * 60 * 60 * 1000
export const DEFAULT_TICKET_KEYS_FORMAT: TicketKeyFileFormat = 'nginx'

/** Environment variables that configure the daemon start with this. */
export const ENV_PREFIX = 'TLSMESH_'
/** The config file may also be named by this variable (a flag wins). */
export const CONFIG_FILE_ENV = 'TLSMESH_CONFIG'
/** A config file larger than this is refused before it is parsed. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/** After the first SIGTERM/SIGINT, a drain that takes longer than this exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 15_000
