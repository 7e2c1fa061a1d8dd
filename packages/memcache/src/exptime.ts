import { MAX_RELATIVE_EXPTIME_SECONDS } from './constants.ts'

/**
 * What a memcached exptime asks for. `default` leaves the lifetime to the cache (memcached's 0
 * means "never", which a session cache cannot honour: its TTL cap applies anyway).
 */
export type Expiry = { kind: 'default' } | { kind: 'ttl'; ttlMs: number } | { kind: 'expired' }

const DEFAULT_EXPIRY: Expiry = { kind: 'default' }
const EXPIRED: Expiry = { kind: 'expired' }

/**
 * memcached's `realtime()`: 0 = default, 1..30 days = relative seconds, larger = absolute unix
 * seconds (one in the past is already expired), negative = already expired. The text protocol
 * passes a signed number; the binary one an unsigned 32-bit one, so it is never negative there.
 */
export function resolveExptime(exptime: number, nowMs: number): Expiry {
  if (exptime === 0) return DEFAULT_EXPIRY
  if (exptime < 0) return EXPIRED
  if (exptime <= MAX_RELATIVE_EXPTIME_SECONDS) return { kind: 'ttl', ttlMs: exptime * 1000 }
  const ttlMs = exptime * 1000 - nowMs
  return ttlMs > 0 ? { kind: 'ttl', ttlMs } : EXPIRED
}
