/**
 * The memcached key of item `i` of the load generator (memcache-load.ts); as bytes, also the id of
 * the record a bench node writes for it (mesh-node-process.ts, `keyFrom`), so that gets hit.
 */
export const memcacheKey = (i: number): string => `tls:${i.toString(16).padStart(64, '0')}`
