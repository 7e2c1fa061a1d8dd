export const DEFAULT_REALM = 'default'
/** Node's own default `sessionTimeout` is 300 s; the replica keeps sessions as long. */
export const DEFAULT_SESSION_TTL_MS = 300_000
