/**
 * Defaults of `MemcacheServerInit` and the protocol limits the endpoint enforces. Where a value
 * copies memcached's, the comment says so: clients (H2O, Apache, memjs) were written against it.
 */

/** memcached's own default address; the endpoint only ever listens on loopback. */
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 11211

/** Owner and group may connect; anyone else is refused by the kernel (connect needs write permission). */
export const DEFAULT_SOCKET_MODE = 0o660

export const DEFAULT_REALM = 'default'

/** The store's own value cap (`DEFAULT_MAX_VALUE_BYTES` of @tlsmesh/store): a session with its chain fits. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024

/**
 * Open connections per listener (memcached's `-c` default); beyond it, new ones are closed at once
 * and counted. Each listener has its own count, so that idle connections to the loopback port,
 * which any local process can open, never lock the web server out of its unix socket.
 */
export const DEFAULT_MAX_TCP_CONNECTIONS = 1024
export const DEFAULT_MAX_SOCKET_CONNECTIONS = 1024

/**
 * A connection must send its first whole command this soon after it is accepted. H2O, Apache and
 * the Node adapter connect when they have a lookup to make and send it at once; a connection that
 * stays silent only holds a slot, so it gets far less than the idle timeout.
 */
export const DEFAULT_FIRST_COMMAND_TIMEOUT_MS = 5_000

/**
 * How long finding the owner of a TCP client (`allowUids`) may take before it is refused as unknown.
 * Measured: a table of 50,000 sockets (6.6 MB) is scanned in 18 ms (median 40 ms on a loaded 2-core
 * machine), delaying the event loop 13 ms at most; this bounds a stall, not a normal scan.
 */
export const SOCKET_OWNER_TIMEOUT_MS = 2_000

/**
 * Bytes read from each of /proc/net/tcp and /proc/net/tcp6 per scan: about 200,000 sockets. A host
 * with more cannot tell owners apart in time; its clients are refused as unknown (counted).
 */
export const MAX_PROC_NET_TCP_BYTES = 32 * 1024 * 1024

/**
 * A connection silent this long is closed. H2O and Apache reconnect on their next lookup, so a
 * close costs them one miss at most; without a bound, forgotten connections would hold slots forever.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000

/**
 * A text command line (without its data block). memcached allows 2048 bytes for most commands; a
 * multi-key `get` needs more (32 keys of the 250-byte maximum fit in 8 KiB).
 */
export const DEFAULT_MAX_LINE_BYTES = 8 * 1024

/** `flush_all` would wipe the sessions of every server of the fleet sharing the realm. */
export const DEFAULT_ALLOW_FLUSH_ALL = false

/** memcached's KEY_MAX_LENGTH. */
export const MAX_KEY_BYTES = 250

/** memcached: an exptime above 30 days is an absolute unix time, not a relative one. */
export const MAX_RELATIVE_EXPTIME_SECONDS = 60 * 60 * 24 * 30

/**
 * Replies queued on a socket before the endpoint stops reading from it. A client that pipelines
 * gets without reading the answers would otherwise grow our memory by up to one value per request.
 */
export const MAX_PENDING_OUTPUT_BYTES = 1024 * 1024

/** An ended connection whose peer does not read our last reply is destroyed after this. */
export const CLOSE_GRACE_MS = 5_000

/** Bounds of `maxValueBytes`, `maxLineBytes` and the connection limits checked at start. */
export const MAX_MAX_VALUE_BYTES = 1024 * 1024
export const MIN_MAX_LINE_BYTES = 512
export const MAX_MAX_LINE_BYTES = 1024 * 1024
export const MAX_MAX_CONNECTIONS = 1_000_000
