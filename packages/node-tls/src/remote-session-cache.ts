/**
 * A session cache in another process (tlsmeshd's memcached endpoint): lookups are asynchronous and
 * may never answer, so the adapter puts a deadline on each one.
 */
export interface RemoteSessionCache {
  /** Resolves with the session, or undefined on a miss or any failure; gives up when `signal` aborts. */
  fetch(id: Uint8Array, options: { signal: AbortSignal }): Promise<Uint8Array | undefined>
  /** Stores a session, fire-and-forget: never throws, never delays the caller. */
  store(id: Uint8Array, value: Uint8Array, ttlMs: number): void
}

export function isRemoteSessionCache(cache: object): cache is RemoteSessionCache {
  return typeof (cache as RemoteSessionCache).fetch === 'function'
}
