/** The key that encrypts new tickets now. */
export interface CurrentTicketKey {
  /** The RFC 5077 `key_name` (32 hex digits) every ticket starts with: public, never the key. */
  name: string
  /** The number of the rotation period it encrypts in. */
  period: number
  ageMs: number
  /** The peer id that proposed it. */
  origin: string
}

/** The next period's key, once distributed. */
export interface NextTicketKey {
  name: string
  period: number
  startsInMs: number
}

/** The last run of `--on-ticket-keys`. */
export interface TicketKeyHookRun {
  /** The exit code, or null when it was killed by a signal. */
  code: number | null
  /** The signal's name (`SIGKILL`), or null. */
  signal: string | null
  timedOut: boolean
  durationMs: number
}

/** Key files for nginx or HAProxy (`--ticket-keys-dir`), since start. */
export interface TicketKeyFilesStatus {
  writes: number
  writeErrors: number
  /** The name of the encrypting key in the files; null before the first write. */
  current: string | null
  /** Ms since the epoch of the last successful write. */
  lastWriteAt: number | null
  /** Why the last write failed (paths, never key bytes); null once one succeeds. */
  lastWriteError: string | null
  hookRuns: number
  /** Hooks that exited non-zero, were killed or timed out. */
  hookFailures: number
  lastHook: TicketKeyHookRun | null
  /** `<--ticket-keys-dir>/<realm>`. */
  dir: string
  format: 'nginx' | 'haproxy'
  /** nginx: the files written (`current.key`, `next.key`, `previous-N.key`), one `ssl_session_ticket_key` line each. */
  slots: number
}

/**
 * One realm's TLS session ticket keys (`--ticket-keys`). Key names are public (every ticket starts
 * with one); keys never appear.
 */
export interface TicketKeysRealmStatus {
  /** `<realm>.tickets`, where the keys travel. */
  keyRealm: string
  /** Holds the current key and, once due, the next one. */
  ready: boolean
  /** Keys held: current, next, older ones still decrypting, replaced ones kept to decrypt. */
  held: number
  current: CurrentTicketKey | null
  next: NextTicketKey | null
  /** The settings in force: `--ticket-key-rotation`, `--ticket-key-lifetime`. */
  rotationMs: number
  decryptLifetimeMs: number
  /** Since start: keys generated here, changes of the encrypting key, keys lost to a race. */
  proposed: number
  rotations: number
  replaced: number
  /** Key records of the wrong size at the last read (a peer's bug): ignored. */
  invalidRecords: number
  /** Failed reads or proposals. */
  errors: number
  /** Null without `--ticket-keys-dir`. */
  files: TicketKeyFilesStatus | null
}
