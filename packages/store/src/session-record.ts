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
  /**
   * What proves `origin` made this record (its signature over the batch the record was published
   * in, and that batch's record digests); shared by the records of one batch. The store keeps it
   * for whoever relays the record later and never reads it: checking it is the caller's job, before
   * `merge`. Absent on a local write until its batch is signed (`attachProof`).
   */
  proof?: RecordProof
}

/** The origin's signature over a batch's manifest and the manifest's 16-byte record digests. */
export interface RecordProof {
  readonly origin: string
  readonly signature: Uint8Array
  readonly digests: Uint8Array
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
  /** A live record of another origin holds the id: only a record's origin may replace or delete it. */
  | 'not-owner'
  /** In a contested realm, a newer record of another origin that the realm's rule does not let win. */
  | 'conflict'
  /** The realm is full and the record's origin holds its fair share of it already. */
  | 'over-quota'
  /** Malformed: empty id, origin empty or too long, times not integers, or `expires <= created`. */
  | 'invalid'
