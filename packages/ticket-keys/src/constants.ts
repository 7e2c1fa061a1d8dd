/**
 * Defaults and fixed sizes of the ticket key schedule. Every node of a realm must run with the same
 * `rotationMs`, `epochMs` and `decryptLifetimeMs`: period numbers are only comparable between nodes
 * that cut time the same way.
 */

/**
 * Hourly rotation: a key encrypts for one hour, so a stolen key opens at most an hour's worth of
 * new tickets. Published practice is longer (Twitter: a new key every 12 h; Go's crypto/tls: every
 * 24 h), so hourly is on the careful side. A shorter period buys little: every rotation costs a
 * Node server one full handshake per outstanding ticket (it holds one key), nginx and HAProxy
 * nothing.
 */
export const DEFAULT_ROTATION_MS = 60 * 60 * 1000

/**
 * How long a key still decrypts after its hour of encrypting. 12 h outlasts the session timeouts
 * servers use (Node and nginx default to 300 s; tuned configurations raise it to hours) while every
 * key's whole life, ahead + rotation + lifetime = 13.25 h, stays within a day: RFC 5246 F.1.4 bounds
 * a session's lifetime at 24 h, and Twitter, with 12 h rotation, zeroed keys after 36 h. The schedule
 * holds ceil(lifetime / rotation) = 12 old keys.
 */
export const DEFAULT_DECRYPT_LIFETIME_MS = 12 * 60 * 60 * 1000

/**
 * How long before its period a key is proposed and gossiped. It only has to exceed propagation
 * (p99 tens of ms), a catch-up round after a short partition (seconds) and the clock skew the store
 * tolerates (`DEFAULT_MAX_CLOCK_SKEW_MS`, 60 s): 15 min leaves room for a node that restarts just
 * before a rotation to fetch the next key from its peers first. With a rotation under an hour the
 * default is a quarter of the rotation instead.
 */
export const DEFAULT_DISTRIBUTE_AHEAD_MS = 15 * 60 * 1000

/**
 * Each node waits a random part of this (drawn once per period) after the proposal window opens
 * before it proposes, and only if it still holds no key: the first proposal usually reaches everyone
 * (tens of ms) before anyone else's turn, so races are rare (and harmless: see the merge rule).
 * The default is a quarter of `distributeAheadMs` when that is shorter.
 */
export const DEFAULT_PROPOSAL_JITTER_MS = 60 * 1000

/**
 * After `start()`, how long a node waits for its peers' keys before it proposes one of its own.
 * Proposing too early is the expensive mistake: a key for the current period with a newer `created`
 * replaces the one the fleet is encrypting with. A catch-up round takes well under a second on a LAN.
 */
export const DEFAULT_JOIN_GRACE_MS = 10_000

/**
 * How often the replica is re-read. `SessionCache` has no change events; a read is a dozen map
 * lookups. Rotations and proposals are also timed exactly, so the poll only bounds how late a key
 * that arrived by gossip is noticed (the caller may call `refresh()` on arrival instead).
 */
export const DEFAULT_POLL_INTERVAL_MS = 1000

/** Periods count from the unix epoch, so hourly periods start on the hour on every node. */
export const DEFAULT_EPOCH_MS = 0

/** The shortest rotation accepted (tests and demos rotate every few seconds). */
export const MIN_ROTATION_MS = 1000

/** nginx's 80-byte key: 16-byte name, 32-byte HMAC-SHA256 key, 32-byte AES-256-CBC key. */
export const TICKET_KEY_BYTES = 80

/** RFC 5077 `key_name`: sent in the clear at the start of every ticket. */
export const TICKET_KEY_NAME_BYTES = 16

/** Node's `ticketKeys`: 16-byte name, 16-byte HMAC key, 16-byte AES-128-CBC key; exactly 48 bytes. */
export const NODE_TICKET_KEYS_BYTES = 48

/** A server realm `R` keeps its ticket keys in the realm `R.tickets`. */
export const TICKET_KEY_REALM_SUFFIX = '.tickets'

/** A record id is the period number, 8 bytes big-endian. */
export const PERIOD_ID_BYTES = 8

/**
 * Keys this node held and then saw replaced by a proposal that won the merge (a race, a healed
 * partition): kept for decryption until their period's lifetime ends, since some server may have
 * encrypted with them. Races are rare; the bound only stops a misbehaving peer from growing it.
 */
export const MAX_SUPERSEDED_KEYS = 2

/** `nginx -s reload` or `systemctl reload` return in well under a second; a hung hook is killed. */
export const DEFAULT_HOOK_TIMEOUT_MS = 30_000

/**
 * A failed write of the key files (disk full, the directory removed) is tried again this soon, not
 * at the next change: that may be a rotation away, and the server meanwhile keeps stale keys.
 */
export const FILE_WRITE_RETRY_MS = 5000

/** After SIGTERM, how long a timed-out hook's process group gets before SIGKILL. */
export const HOOK_KILL_GRACE_MS = 2000

/** The hook's stderr kept for the log when it fails (its tail). */
export const MAX_HOOK_STDERR_BYTES = 2048

/** HAProxy's default build (`TLS_TICKETS_NO`) holds 3 keys and refuses a file with fewer lines. */
export const HAPROXY_MIN_KEYS = 3

/** The file `--ticket-keys-format haproxy` writes (`tls-ticket-keys <dir>/tls-ticket-keys.txt`). */
export const HAPROXY_KEY_FILE = 'tls-ticket-keys.txt'

/**
 * How long after its making a key for a period already under way may still lose a race to a newer
 * proposal: long enough for a fleet's simultaneous first proposals to meet (propagation takes
 * milliseconds, a catch-up round well under a second), short enough that no key holder can swap a
 * key the fleet has been encrypting with.
 */
export const CONTEST_GRACE_MS = 10_000
