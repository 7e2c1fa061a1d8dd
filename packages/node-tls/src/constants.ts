export const DEFAULT_REALM = 'default'
/** Node's own default `sessionTimeout` is 300 s; the replica keeps sessions as long. */
export const DEFAULT_SESSION_TTL_MS = 300_000
/**
 * Deadline for a lookup in another process (tlsmeshd over a unix socket answers in well under 1 ms);
 * past it the handshake goes on as a full one instead of stalling on a hung daemon.
 */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 50
