import { DEFAULT_LIMITS, type WireLimits } from './constants.ts'
import type { WireRecord } from './record-batch.ts'

// Both are ASCII-only, which also makes their UTF-16 length their encoded length.
const REALM_PATTERN = /^[A-Za-z0-9._-]+$/
// libp2p peer ids print as multibase (base58btc, base32, base36): letters and digits only.
const ORIGIN_PATTERN = /^[A-Za-z0-9]+$/

const SHORT_FIELDS: ReadonlySet<keyof WireLimits> = new Set(['maxIdBytes', 'maxRealmBytes', 'maxOriginBytes'])

/** Fills in defaults; throws a RangeError naming the field when a limit is not a positive integer. */
export function resolveLimits(limits?: Partial<WireLimits>): Readonly<WireLimits> {
  if (limits === undefined) return DEFAULT_LIMITS
  const resolved = { ...DEFAULT_LIMITS }
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof WireLimits>) {
    const value = limits[key]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`wire limit ${key} must be a positive integer, got ${String(value)}`)
    }
    // Digests and manifests give these fields a one-byte length (record-digest.ts).
    if (SHORT_FIELDS.has(key) && value > 255) {
      throw new RangeError(`wire limit ${key} must be at most 255, got ${value}`)
    }
    resolved[key] = value
  }
  return resolved
}

/** Why `realm` may not go on the wire, or undefined when it may. */
export function realmProblem(realm: string, limits: Readonly<WireLimits>): string | undefined {
  if (realm.length < 1 || realm.length > limits.maxRealmBytes) {
    return `realm is ${realm.length} characters, allowed 1..${limits.maxRealmBytes}`
  }
  if (!REALM_PATTERN.test(realm)) return 'realm has a character outside [A-Za-z0-9._-]'
  return undefined
}

/** Why `record` may not go on the wire, or undefined when it may. */
export function recordProblem(record: WireRecord, limits: Readonly<WireLimits>): string | undefined {
  const { id, value, created, expires, origin } = record
  if (id.byteLength < 1 || id.byteLength > limits.maxIdBytes) {
    return `id is ${id.byteLength} bytes, allowed 1..${limits.maxIdBytes}`
  }
  if (value !== undefined && value.byteLength > limits.maxValueBytes) {
    return `value is ${value.byteLength} bytes, allowed 0..${limits.maxValueBytes}`
  }
  // 0 is how proto3 spells "absent", so a time must be positive to count as present.
  if (!Number.isSafeInteger(created) || created < 1) return 'created is not a positive safe integer'
  if (!Number.isSafeInteger(expires) || expires < 1) return 'expires is not a positive safe integer'
  if (expires <= created) return 'expires is not after created'
  return origin === undefined ? undefined : originProblem(origin, limits)
}

/** Why `origin` (a peer id's string form) may not go on the wire, or undefined when it may. */
export function originProblem(origin: string, limits: Readonly<WireLimits>): string | undefined {
  if (origin.length < 1 || origin.length > limits.maxOriginBytes) {
    return `origin is ${origin.length} characters, allowed 1..${limits.maxOriginBytes}`
  }
  if (!ORIGIN_PATTERN.test(origin)) return 'origin has a character outside [A-Za-z0-9]'
  return undefined
}
