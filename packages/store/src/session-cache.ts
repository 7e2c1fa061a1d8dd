import type { SessionRecord } from './session-record.ts'

/**
 * What a front end (the Node TLS adapter, the memcached endpoint) needs from a session cache.
 * Synchronous on purpose: a lookup on the handshake path is a local memory read.
 * Implementations: `LocalSessionCache` (one process, no replication) and the mesh's replicated cache.
 */
export interface SessionCache {
  /** The live value of (realm, id), or undefined (missing, expired or a tombstone). */
  get(realm: string, id: Uint8Array): SessionRecord | undefined
  /**
   * Stores a value with a TTL (ms, capped by the realm's TTL cap) and, when replicated, publishes it.
   * Returns the record as stored; throws a typed error (see errors.ts) if it is refused.
   */
  set(realm: string, id: Uint8Array, value: Uint8Array, ttlMs: number): SessionRecord
  /** Writes a tombstone. Returns false if there was no live value. */
  delete(realm: string, id: Uint8Array): boolean
  /** Moves the expiry of a live value to now + ttlMs. Returns false if there was no live value. */
  touch(realm: string, id: Uint8Array, ttlMs: number): boolean
}
