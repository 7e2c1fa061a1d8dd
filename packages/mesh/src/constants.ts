/** Protocol and topic names carry a version so that a future wire change can run beside this one. */
export const TOPIC_PREFIX = '/tlsmesh/1'
export const DEFAULT_MESH_NAME = 'default'
export const DEFAULT_REALM = 'default'

/**
 * Batching: a record after a quiet spell is published on the next turn of the event loop
 * (setImmediate), together with whatever else arrived in that turn, so an idle mesh adds no timer
 * delay to propagation (a client's next connection may reach another server a few ms later). A
 * record within DEFAULT_BATCH_INTERVAL_MS of the last batch waits for the rest of it: a busy TLS
 * server makes each session in a turn of its own, and this packs them into shared signed messages.
 */
export const DEFAULT_BATCH_MAX_BYTES = 64 * 1024
export const DEFAULT_BATCH_MAX_RECORDS = 256
export const DEFAULT_BATCH_INTERVAL_MS = 5

/**
 * gossipsub mesh degree. Flood publishing off: the origin sends to its D mesh peers, not to every
 * peer it knows (flood publishing multiplies the origin's sends by N).
 */
export const DEFAULT_GOSSIP_D = 6
export const DEFAULT_GOSSIP_DLO = 4
export const DEFAULT_GOSSIP_DHI = 12
export const DEFAULT_HEARTBEAT_MS = 700

/** Dial discovered peers until this many connections are open. */
export const DEFAULT_TARGET_PEERS = 6
/**
 * libp2p pings every connection this often and closes it when the ping fails. Each ping opens a
 * stream (negotiation, a peer-store write): at libp2p's 10 s, pings are most of an idle node's
 * bytes and CPU. A dead process is noticed at once anyway (TCP reset); this bounds how long a
 * frozen host or a silent partition holds a link.
 */
export const PING_INTERVAL_MS = 30_000
export const DEFAULT_MAX_CONNECTIONS = 256

/**
 * Before the key (pre-key-admission.ts): an inbound connection that has not yet proven the mesh key
 * (the 24-byte nonce, then a first message that decrypts) holds a socket and a slot for at most the
 * deadline. A key holder proves it within 1.5 round trips of connecting; 2 s leaves room for a WAN
 * path and a busy event loop (a cold start of 20 nodes on 2 cores) while a silent connection is gone
 * five times sooner than at libp2p's 10 s upgrade timeout.
 */
export const PRE_KEY_DEADLINE_MS = 2000
/**
 * Unproven connections kept per remote address (an IPv6 /64) and in all. When either is reached the
 * oldest unproven one is dropped, not the newcomer: idle connections cannot hold the door shut, and a
 * key holder, even on the flooder's own address, gets in as long as it proves the key before this
 * many newer connections arrive. The per-address cap keeps one address from pushing every other out.
 */
export const PRE_KEY_MAX_PER_ADDRESS = 64
export const PRE_KEY_MAX_PENDING = 256
/**
 * libp2p's own limit on inbound connections still being upgraded (`maxIncomingPendingConnections`,
 * default 10): above PRE_KEY_MAX_PENDING, so that libp2p never refuses a newcomer that would have
 * pushed out an unproven one, with room for key holders' Noise handshakes. At libp2p's 10, twelve
 * idle connections make every key holder's dial fail with ECONNRESET for 10 s.
 */
export const MAX_INCOMING_PENDING_CONNECTIONS = 512
/**
 * libp2p refuses every further connection from a host for the rest of a second once it has opened
 * this many in that second (`inboundConnectionThreshold`, default 5), a key holder's too: idle
 * connections from a key holder's address would lock it out. The pre-key caps above bound what such
 * connections cost, so this is a backstop only, above the ~1,000 a second one node takes in from a
 * flood on 2 cores.
 */
export const INBOUND_CONNECTION_THRESHOLD = 5000

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
 * How batches travel by default: the epidemic broadcast tree (broadcast/plumtree.ts), which sends
 * about one copy per node where gossipsub sends one per mesh link (bench/scale.ts, N = 10: 1.02x the
 * bytes of a direct push against gossipsub's 5.1x, and 1.7x its CPU against 3.3x).
 * gossipsub still carries subscriptions, and batches when a node has no tree neighbour; `'gossipsub'`
 * sends every batch there.
 */
export const DEFAULT_DISSEMINATION: 'tree' | 'gossipsub' = 'tree'
/**
 * A node that hears of a batch by id waits this long for the payload before it asks the announcer:
 * well above a tree path's delivery time even on a loaded node (at 150 ms a saturated 20-node fleet
 * grafts spuriously, and each spurious graft adds duplicates and load), and under the one second in
 * which a broken tree must be repaired.
 */
export const DEFAULT_GRAFT_TIMEOUT_MS = 400
export const DEFAULT_REGRAFT_TIMEOUT_MS = 200
/**
 * Ids of batches sent to lazy neighbours go out in groups this often. Announcements only matter when
 * the tree breaks, so they can wait: at 25 ms a busy node sends one IHAVE frame per batch per lazy
 * neighbour, and those frames cost more CPU than the payloads. A missing batch is still asked for
 * within this plus the graft timeout (600 ms), inside the second a repair may take.
 */
export const DEFAULT_LAZY_FLUSH_MS = 200
/**
 * Lazy neighbours each flush announces to (picked at random each time), as gossipsub's Dlazy: with
 * 6, a node of a 20-node fleet misses a given batch's every announcement with probability
 * (1 - 6/18)^18 < 0.1%, and anti-entropy covers that.
 */
export const DEFAULT_LAZY_FANOUT = 6
/**
 * A node's degree in the broadcast tree, as gossipsub's D: the copies an origin sends of each batch,
 * whatever the fleet's size (see maxEagerPeers in plumtree.ts).
 */
export const DEFAULT_MAX_EAGER_PEERS = 6
/**
 * A node beyond that cap (every link starts eager) makes one more link lazy this often: a star
 * around a busy origin is thinned to 6 children within a few seconds, one GRAFT elsewhere at a time.
 */
export const DEFAULT_SHED_INTERVAL_MS = 250
