import { DEFAULT_TTL_MS, MAX_ORIGIN_LENGTH } from './constants.ts'
import {
  InvalidIdError,
  InvalidOptionError,
  InvalidRealmError,
  NotOwnerError,
  RecordTooLargeError,
  UnknownRealmError,
} from './errors.ts'
import { isValidId, isValidOrigin, isValidRealm } from './record-validation.ts'
import { type ReplicaStore, recordSize } from './replica-store.ts'
import type { SessionCache } from './session-cache.ts'
import type { MergeOutcome, SessionRecord } from './session-record.ts'

export interface LocalSessionCacheInit {
  store: ReplicaStore
  /** Default `Date.now`. */
  now?: () => number
  /** Written into records created here; the mesh passes its peer id. Default `'local'`. */
  origin?: string
  /** For a `ttlMs` of 0 or less. Default `DEFAULT_TTL_MS`, capped at the store's `maxTtlMs`. */
  defaultTtlMs?: number
}

/**
 * The `SessionCache` API over a `ReplicaStore`, with the clock injected. Unlike `merge`, refusals
 * throw the typed errors, since a local caller passed them; a TTL over the store's cap is capped.
 * A live record that another node made cannot be replaced, deleted or touched here (NotOwnerError):
 * only its origin can sign a new version that the fleet accepts. Its writes reach the store's
 * watchers with the source `local` (the mesh publishes those).
 */
export class LocalSessionCache implements SessionCache {
  readonly #store: ReplicaStore
  readonly #now: () => number
  readonly #origin: string
  readonly #defaultTtlMs: number

  constructor(init: LocalSessionCacheInit) {
    const origin = init.origin ?? 'local'
    if (!isValidOrigin(origin)) {
      throw new InvalidOptionError(`origin: expected 1-${MAX_ORIGIN_LENGTH} characters, got ${origin.length}`)
    }
    const defaultTtlMs = init.defaultTtlMs ?? DEFAULT_TTL_MS
    if (!Number.isSafeInteger(defaultTtlMs) || defaultTtlMs <= 0) {
      throw new InvalidOptionError(`defaultTtlMs: expected a positive integer, got ${defaultTtlMs}`)
    }
    this.#store = init.store
    this.#now = init.now ?? Date.now
    this.#origin = origin
    this.#defaultTtlMs = Math.min(defaultTtlMs, init.store.limits.maxTtlMs)
  }

  get(realm: string, id: Uint8Array): SessionRecord | undefined {
    return this.#store.get(realm, id, this.#now())
  }

  set(realm: string, id: Uint8Array, value: Uint8Array, ttlMs: number): SessionRecord {
    this.#assertWritable(realm, id)
    const { maxValueBytes, maxBytesPerRealm } = this.#store.limits
    if (value.byteLength > maxValueBytes) {
      throw new RecordTooLargeError(`value of ${value.byteLength} bytes is over the cap of ${maxValueBytes}`)
    }
    const now = this.#now()
    const created = this.#nextCreated(realm, id, now)
    const record: SessionRecord = {
      realm,
      id,
      value,
      created,
      expires: created + this.#ttl(ttlMs),
      origin: this.#origin,
    }
    if (recordSize(record) > maxBytesPerRealm) {
      throw new RecordTooLargeError(`record is over the realm's whole byte budget of ${maxBytesPerRealm}`)
    }
    return this.#write(record, now)
  }

  delete(realm: string, id: Uint8Array): boolean {
    const now = this.#now()
    const live = this.#store.get(realm, id, now)
    if (live === undefined) return false
    // The tombstone lives as long as the value it deletes, so that copies of that value still on
    // their way (gossip, a later sync) lose to it. An older version with a later expiry can still
    // come back once the tombstone is gone.
    const created = this.#nextCreated(realm, id, now)
    this.#write(
      { realm, id, created, expires: Math.max(live.expires, created + 1), origin: this.#origin },
      now,
    )
    return true
  }

  touch(realm: string, id: Uint8Array, ttlMs: number): boolean {
    const now = this.#now()
    const live = this.#store.get(realm, id, now)
    if (live === undefined) return false
    const created = this.#nextCreated(realm, id, now)
    // A new version: the old one's proof does not cover it.
    const expires = created + this.#ttl(ttlMs)
    this.#write({ realm, id, value: live.value, created, expires, origin: this.#origin }, now)
    return true
  }

  #assertWritable(realm: string, id: Uint8Array): void {
    if (!isValidRealm(realm)) {
      throw new InvalidRealmError('a realm name is 1-64 characters of A-Z a-z 0-9 . _ -')
    }
    if (!this.#store.acceptsRealm(realm)) throw new UnknownRealmError(`realm ${realm} is not served here`)
    if (!isValidId(id)) throw new InvalidIdError(`an id is 1-250 bytes, got ${id.byteLength}`)
  }

  /**
   * `now`, unless a record of the id was created at or after it (the same millisecond, a peer's
   * clock ahead of ours): a write must be newer than what it overwrites, or merge would call it a
   * duplicate or stale.
   */
  #nextCreated(realm: string, id: Uint8Array, now: number): number {
    const existing = this.#store.peek(realm, id, now)
    return existing === undefined || existing.created < now ? now : existing.created + 1
  }

  #ttl(ttlMs: number): number {
    if (!(ttlMs > 0)) return this.#defaultTtlMs
    return Math.min(Math.ceil(ttlMs), this.#store.limits.maxTtlMs)
  }

  #write(record: SessionRecord, now: number): SessionRecord {
    const outcome = this.#store.merge(record, now, 'local')
    if (outcome === 'not-owner' || outcome === 'conflict') {
      throw new NotOwnerError('the id holds a live record another node made')
    }
    const stored = isStored(outcome) ? this.#store.peek(record.realm, record.id, now) : undefined
    if (stored === undefined) throw new Error(`local write not stored: ${outcome}`)
    return stored
  }
}

function isStored(outcome: MergeOutcome): boolean {
  return outcome === 'added' || outcome === 'replaced'
}
