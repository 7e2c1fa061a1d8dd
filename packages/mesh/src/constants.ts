/** Protocol and topic names carry a version so that a future wire change can run beside this one. */
export const TOPIC_PREFIX = '/tlsmesh/1'
export const DEFAULT_MESH_NAME = 'default'
export const DEFAULT_REALM = 'default'

/**
 * Batching: a record is published on the next turn of the event loop (setImmediate), together with
 * whatever else arrived in that turn, so an idle mesh adds no timer delay to propagation (a client's
 * next connection may reach another server a few ms later) while a busy one packs many records
 * into each signed gossip message.
 */
export const DEFAULT_BATCH_MAX_BYTES = 64 * 1024
export const DEFAULT_BATCH_MAX_RECORDS = 256

/**
 * gossipsub mesh degree. Flood publishing off: the origin sends to its D mesh peers, not to every
 * peer it knows (design.md: flood publishing multiplies the origin's sends by N).
 */
export const DEFAULT_GOSSIP_D = 6
export const DEFAULT_GOSSIP_DLO = 4
export const DEFAULT_GOSSIP_DHI = 12
export const DEFAULT_HEARTBEAT_MS = 700

/** Dial discovered peers until this many connections are open. */
export const DEFAULT_TARGET_PEERS = 16
export const DEFAULT_MAX_CONNECTIONS = 256

/** How often expired records are dropped from the replica. */
export const DEFAULT_PRUNE_INTERVAL_MS = 10_000

/**
 * Anti-entropy with one random peer this often: gossip only carries what is new, and a record lost
 * in flight (a peer restarting, a dropped stream) is healed within this bound. A reconciliation of
 * equal replicas costs one round trip of a few dozen bytes.
 */
export const DEFAULT_SYNC_INTERVAL_MS = 30_000
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000

/**
 * Dissemination along an epidemic broadcast tree (broadcast/plumtree.ts): each node receives each
 * batch about once, where gossipsub sends one copy per mesh link (measured here: 5.9-6.5x the bytes
 * of a direct push at N = 10).
 */
export const DEFAULT_DISSEMINATION = 'tree' as const
/**
 * A node that hears of a batch by id waits this long for the payload before it asks the announcer:
 * well above a tree path's delivery time on a LAN (a few ms per hop), well under the one second in
 * which a broken tree must be repaired.
 */
export const DEFAULT_GRAFT_TIMEOUT_MS = 150
export const DEFAULT_REGRAFT_TIMEOUT_MS = 100
/** Ids of batches sent to lazy neighbours go out in groups this often. */
export const DEFAULT_LAZY_FLUSH_MS = 25
