/**
 * One replicated entry: a TLS session (or any cache value) of one realm.
 * A record without `value` is a tombstone: it wins merges like any record but is never returned.
 */
export interface SessionRecord {
  /** The server group that may resume this session. */
  realm: string
  /** Session id (TLS: up to 32 bytes) or memcached key (up to 250 bytes). */
  id: Uint8Array
  /** The serialized session: opaque, holds master secrets, never logged. Absent for a tombstone. */
  value?: Uint8Array
  /** Absolute creation time, ms since the unix epoch. Newer wins. */
  created: number
  /** Absolute expiry, ms since the unix epoch. */
  expires: number
  /** Peer id (string form) of the node that created it; breaks ties between equal `created`. */
  origin: string
}

/** What `merge` did with a record. Stored outcomes first; the rest leave the replica unchanged. */
export type MergeOutcome =
  | 'added'
  | 'replaced'
  | 'duplicate'
  | 'stale'
  | 'expired'
  | 'ttl-too-long'
  /** `created` is further ahead of the receiver's clock than `maxClockSkewMs`. */
  | 'from-future'
  | 'too-large'
  | 'unknown-realm'
  /** Malformed: empty id, origin empty or too long, times not integers, or `expires <= created`. */
  | 'invalid'
