/**
 * Defaults and hard limits of the replica. The `DEFAULT_` values can be changed per store (see
 * `ReplicaStoreInit`); the others are protocol limits that every node must agree on.
 */

/**
 * Sessions per realm. A ~200-byte TLS 1.2 session is accounted ~650 bytes (with the overhead below),
 * so 100k of them come to about the default byte budget: whichever limit is reached first applies.
 */
export const DEFAULT_MAX_ENTRIES_PER_REALM = 100_000

/** Accounted bytes per realm (see `RECORD_OVERHEAD_BYTES`), evicted least recently used first. */
export const DEFAULT_MAX_BYTES_PER_REALM = 64 * 1024 * 1024

/** A TLS session id is at most 32 bytes, a memcached key at most 250: the id limit serves both. */
export const MAX_ID_BYTES = 250

/** A serialized TLS 1.2 session with a certificate chain fits well under this; larger values are refused. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024

/** Node's own TLS session timeout (tls.createServer `sessionTimeout`) is 300 s. */
export const DEFAULT_TTL_MS = 300_000

/** RFC 5246 F.1.4 advises an upper limit of 24 hours on session id lifetimes. */
export const DEFAULT_MAX_TTL_MS = 24 * 60 * 60 * 1000

/**
 * How far in the future a peer's `created` may be. Without a bound, a peer with a clock far ahead
 * would win every merge for its ids until that time comes.
 */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000

/** Realm names end up in topic names and metric labels, so they are short and plain. */
export const MAX_REALM_LENGTH = 64

/**
 * When no realm list is configured. Each realm gets its own lru-cache, which preallocates its slot
 * arrays (about 36 bytes per slot of `maxEntriesPerRealm`, ~3.6 MB at the default), so the number
 * of realms is bounded too.
 */
export const DEFAULT_MAX_REALMS = 64

/**
 * A libp2p peer id in string form is ~52 characters (Ed25519, base58btc); the bound leaves room for
 * other encodings while keeping a peer from attaching a large string to each record.
 */
export const MAX_ORIGIN_LENGTH = 128

/**
 * What a stored record costs beyond its id, value and origin bytes, so that the byte budget bounds
 * heap use and not only payload: the record object (its times as small integers, an owner shared with
 * its origin's other records, a reference to its pooled value bytes), the latin1 key string that holds
 * its id, lru-cache's Map entry and preallocated slot arrays, the expiry wheel's slot, the mesh's
 * catch-up digest entry (about 40 bytes) and its share of its batch's proof (about 24). bench/memory.ts
 * measures 501 bytes of heap for a record of 232 payload bytes held by a node, proofs included, at
 * 100,000 records (485 at 1,000,000), ~270 of overhead: this bound stays above it.
 */
export const RECORD_OVERHEAD_BYTES = 360
