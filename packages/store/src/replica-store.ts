import { LRUCache } from 'lru-cache'
import {
  DEFAULT_MAX_BYTES_PER_REALM,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DEFAULT_MAX_ENTRIES_PER_REALM,
  DEFAULT_MAX_REALMS,
  DEFAULT_MAX_TTL_MS,
  DEFAULT_MAX_VALUE_BYTES,
  MAX_ID_BYTES,
  RECORD_OVERHEAD_BYTES,
} from './constants.ts'
import { InvalidOptionError, InvalidRealmError } from './errors.ts'
import { ExpiryWheel } from './expiry-wheel.ts'
import { OriginShares } from './origin-shares.ts'
import { isValidId, isValidOrigin, isValidRealm } from './record-validation.ts'
import type { MergeOutcome, RecordProof, SessionRecord } from './session-record.ts'
import { idKey, StoredRecord } from './stored-record.ts'

/** Who hands a record to `merge`: this node's own cache API, or a peer by gossip or by catch-up. */
export type RecordSource = 'local' | 'gossip' | 'sync'

/** Whether `incoming`, newer than `existing` and of another origin, may replace it. */
export type ContestRule = (existing: SessionRecord, incoming: SessionRecord, now: number) => boolean

/** Why a record left the replica without being replaced: the LRU budget, or its own expiry. */
export type RemovalReason = 'evict' | 'expire'

/** Why a record left a realm: a newer version took its place, or a `RemovalReason`. */
export type ChangeReason = RemovalReason | 'replace'

/**
 * Follows every change of the replica's content, for whoever keeps an index of it (the mesh's sync
 * digests). A replacement is reported as the old version's `removed` and then the new one's `stored`;
 * evictions a record causes come before its `stored`. Called once the store is consistent again, but
 * from inside `merge`/`get`/`peek`/`prune`: must not throw, and must not write to the store. A stored
 * record gaining a proof (`attachProof`, a duplicate) is no change: it is the same object.
 */
export interface ReplicaWatcher {
  /**
   * `record` is the store's own copy, as `entries` and `peek` hand it out later; `source` is who
   * handed it in. Called inside `merge`: a watcher that has slow work to do defers it.
   */
  stored(record: SessionRecord, source: RecordSource): void
  removed(record: SessionRecord, reason: ChangeReason): void
}

export interface ReplicaStoreInit {
  /** If given, only these realms are accepted; otherwise any valid realm name, up to `maxRealms`. */
  realms?: string[]
  /** Only when `realms` is not given. Default `DEFAULT_MAX_REALMS`. */
  maxRealms?: number
  maxEntriesPerRealm?: number
  maxBytesPerRealm?: number
  maxValueBytes?: number
  maxTtlMs?: number
  maxClockSkewMs?: number
  /**
   * Realms whose ids several origins may legitimately claim (ticket-key proposals), each with the
   * rule for whether `incoming` may replace the live `existing` record of another origin. Where the
   * rule says no, the outcome is `conflict`; in every other realm only a record's origin may replace
   * or delete it (`not-owner`).
   */
  contested?: Record<string, ContestRule>
  /**
   * Called after a record left the replica by eviction (byte budget or entry cap) or expiry.
   * Called once the store is consistent again, but from inside `merge`/`get`/`prune`: must not throw.
   */
  onEvict?: (record: SessionRecord, reason: RemovalReason) => void
}

/** The limits in force, defaults applied. */
export interface ReplicaStoreLimits {
  readonly maxRealms: number
  readonly maxEntriesPerRealm: number
  readonly maxBytesPerRealm: number
  readonly maxValueBytes: number
  readonly maxTtlMs: number
  readonly maxClockSkewMs: number
}

export interface RealmStats {
  entries: number
  /** Accounted bytes: id + value + origin + `RECORD_OVERHEAD_BYTES` per entry. */
  bytes: number
}

export interface ReplicaStoreStats extends RealmStats {
  /** Since start: records dropped by the byte budget or the entry cap. */
  evictions: number
  /** Since start: expired records removed (lazily on access, or by `prune`). */
  expirations: number
  realms: Record<string, RealmStats>
}

/** Stored records are the store's own copies; they are shared with callers and must not be mutated. */
type RealmCache = LRUCache<string, SessionRecord>

/**
 * The local replica: records keyed by (realm, id), one LRU cache per realm so that realms cannot
 * see or evict each other's records, newest-wins merge, tombstones, absolute expiry checked against
 * the caller's `now` (lru-cache's own ttl would read its own clock). No I/O, no timers.
 */
export class ReplicaStore {
  readonly limits: ReplicaStoreLimits
  readonly #configured: ReadonlySet<string> | undefined
  readonly #caches = new Map<string, RealmCache>()
  readonly #shares = new WeakMap<RealmCache, OriginShares>()
  readonly #expiries = new WeakMap<RealmCache, ExpiryWheel>()
  readonly #watchers = new Set<ReplicaWatcher>()
  readonly #contested: ReadonlyMap<string, ContestRule>
  #evictions = 0
  #expirations = 0

  constructor(init: ReplicaStoreInit = {}) {
    this.limits = {
      maxRealms: positiveInteger('maxRealms', init.maxRealms ?? DEFAULT_MAX_REALMS),
      maxEntriesPerRealm: positiveInteger(
        'maxEntriesPerRealm',
        init.maxEntriesPerRealm ?? DEFAULT_MAX_ENTRIES_PER_REALM,
      ),
      maxBytesPerRealm: positiveInteger(
        'maxBytesPerRealm',
        init.maxBytesPerRealm ?? DEFAULT_MAX_BYTES_PER_REALM,
      ),
      maxValueBytes: positiveInteger('maxValueBytes', init.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES),
      maxTtlMs: positiveInteger('maxTtlMs', init.maxTtlMs ?? DEFAULT_MAX_TTL_MS),
      maxClockSkewMs: nonNegativeInteger('maxClockSkewMs', init.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS),
    }
    if (init.realms !== undefined) {
      for (const realm of init.realms) {
        if (!isValidRealm(realm)) {
          throw new InvalidRealmError(
            `realms: ${JSON.stringify(realm)} is not a realm name (1-64 characters of A-Z a-z 0-9 . _ -)`,
          )
        }
      }
      this.#configured = new Set(init.realms)
    }
    const { onEvict } = init
    if (onEvict !== undefined) {
      this.watch({
        stored: () => {},
        removed: (record, reason) => {
          if (reason !== 'replace') onEvict(record, reason)
        },
      })
    }
    this.#contested = new Map(Object.entries(init.contested ?? {}))
    // lru-cache allocates its slot arrays up front: 10 ms at 100,000 entries, 80 ms at 1,000,000. Paid
    // here, at start, not by the first record a realm gets, in the middle of a handshake.
    for (const realm of this.#configured ?? []) this.#createCache(realm)
  }

  /**
   * Applies a record from anywhere (a peer, a sync, the local cache). Never throws: refusals are
   * outcomes, so that the gossip validator decides what each one means for the sender. The record
   * is copied; the caller may reuse its buffers.
   *
   * Order: newer `created` wins; equal `created` is won by the greater `origin` (UTF-16 code unit
   * order); equal both is a duplicate. Tombstones take part like any record. An expired record in
   * the replica counts as absent. A newer record of another origin replaces a live one only in a
   * contested realm whose rule allows it (`not-owner`, `conflict` otherwise). A duplicate carrying a
   * proof that the stored copy lacks lends it that proof. A new record from a peer (`source`) that
   * would fill the realm past its caps is refused (`over-quota`) when its origin already holds its
   * fair share; local writes always go in, evicting the least recently used.
   */
  merge(record: SessionRecord, now: number, source: RecordSource = 'gossip'): MergeOutcome {
    const refusal = this.#refusal(record, now)
    if (refusal !== undefined) return refusal
    const key = keyOf(record)
    let cache = this.#caches.get(record.realm)
    let outcome: 'added' | 'replaced' = 'added'
    const existing = cache?.peek(key)
    if (cache !== undefined && existing !== undefined) {
      if (existing.expires <= now) {
        this.#expire(cache, key, existing)
      } else {
        const order = compareVersions(record, existing)
        if (order === 0) {
          if (existing.proof === undefined && record.proof !== undefined) existing.proof = record.proof
          return 'duplicate'
        }
        if (order < 0) return 'stale'
        if (record.origin !== existing.origin) {
          const contest = this.#contested.get(record.realm)
          if (contest === undefined) return 'not-owner'
          if (!contest(existing, record, now)) return 'conflict'
        }
        outcome = 'replaced'
      }
    }
    cache ??= this.#createCache(record.realm)
    if (outcome === 'added' && source !== 'local' && this.#overQuota(cache, record)) return 'over-quota'
    const shares = this.#shares.get(cache)!
    const stored = new StoredRecord(record, shares.add(record.origin, recordSize(record)), key)
    // lru-cache reports what this displaced (the old version, an eviction at the entry cap) before
    // `set` returns, and what `pop` evicts (least recently used first) before it returns. The record
    // just stored fits the budget alone (#refusal), so it is never the one evicted.
    cache.set(key, stored)
    while (shares.bytes > this.limits.maxBytesPerRealm && cache.size > 1) cache.pop()
    this.#expiries.get(cache)!.add(key, stored.expires)
    for (const watcher of this.#watchers) watcher.stored(stored, source)
    return outcome
  }

  /** Reports every later change of the replica's content to `watcher`; returns what stops it. */
  watch(watcher: ReplicaWatcher): () => void {
    this.#watchers.add(watcher)
    return () => {
      this.#watchers.delete(watcher)
    }
  }

  /** A full realm refuses a new record from an origin at its fair share rather than evict another's. */
  #overQuota(cache: RealmCache, record: SessionRecord): boolean {
    const size = recordSize(record)
    const { maxEntriesPerRealm, maxBytesPerRealm } = this.limits
    const shares = this.#shares.get(cache)!
    const full = cache.size >= maxEntriesPerRealm || shares.bytes + size > maxBytesPerRealm
    return full && shares.atFairShare(record.origin, size, maxEntriesPerRealm, maxBytesPerRealm)
  }

  /**
   * Gives a stored record the proof of the batch it was published in, once that batch is signed
   * (local writes are stored before): only if the stored version is still `record`'s.
   */
  attachProof(record: SessionRecord, proof: RecordProof): boolean {
    const stored = this.#caches.get(record.realm)?.peek(keyOf(record))
    if (stored === undefined || compareVersions(stored, record) !== 0) return false
    stored.proof = proof
    return true
  }

  /** The live value of (realm, id): not a tombstone, not expired. Marks it recently used. */
  get(realm: string, id: Uint8Array, now: number): SessionRecord | undefined {
    const record = this.#lookup(realm, id, now, true)
    return record?.value === undefined ? undefined : record
  }

  /** The record of (realm, id), tombstones included, unless expired. Leaves recency alone. */
  peek(realm: string, id: Uint8Array, now: number): SessionRecord | undefined {
    return this.#lookup(realm, id, now, false)
  }

  /**
   * Removes every expired record, tombstones included, and forgets realms left empty that were not
   * configured (so their slots count against `maxRealms` no more). Returns how many records went.
   * Unexpired tombstones stay: dropping one early would let an older value come back.
   */
  /**
   * Removes expired records, at most `limit` of them (so that a caller can spread a large wave of
   * expiries over several turns of its event loop); returns how many. Visits only records that
   * expired, or expire within the second of `now`.
   */
  prune(now: number, limit = Number.POSITIVE_INFINITY): number {
    let removed = 0
    for (const [realm, cache] of this.#caches) {
      removed += this.#expiries
        .get(cache)!
        .prune(now, limit - removed, (key) => this.#expire(cache, key, cache.peek(key)!))
      if (cache.size === 0 && this.#configured === undefined) this.#caches.delete(realm)
      if (removed >= limit) break
    }
    return removed
  }

  /**
   * The unexpired records of a realm, tombstones included, most recently used first. Lazy: do not
   * merge into the store while iterating (collect first).
   */
  *entries(realm: string, now: number): IterableIterator<SessionRecord> {
    const cache = this.#caches.get(realm)
    if (cache === undefined) return
    for (const record of cache.values()) {
      if (record.expires > now) yield record
    }
  }

  /** Whether a record of this realm would be accepted (valid name, configured or room for it). */
  acceptsRealm(realm: string): boolean {
    if (this.#configured !== undefined) return this.#configured.has(realm)
    return this.#caches.has(realm) || (isValidRealm(realm) && this.#caches.size < this.limits.maxRealms)
  }

  /** The configured realms, or, without a configuration, the realms holding records. */
  realms(): string[] {
    return [...(this.#configured ?? this.#caches.keys())]
  }

  stats(): ReplicaStoreStats {
    const realms: Record<string, RealmStats> = {}
    let entries = 0
    let bytes = 0
    for (const [realm, cache] of this.#caches) {
      const realmBytes = this.#shares.get(cache)!.bytes
      realms[realm] = { entries: cache.size, bytes: realmBytes }
      entries += cache.size
      bytes += realmBytes
    }
    return { entries, bytes, evictions: this.#evictions, expirations: this.#expirations, realms }
  }

  #refusal(record: SessionRecord, now: number): MergeOutcome | undefined {
    if (!this.acceptsRealm(record.realm)) return 'unknown-realm'
    if (record.id.byteLength > MAX_ID_BYTES) return 'too-large'
    if (!isValidId(record.id) || !isValidOrigin(record.origin)) return 'invalid'
    const { created, expires } = record
    const timesValid = Number.isSafeInteger(created) && Number.isSafeInteger(expires) && expires > created
    if (!timesValid) return 'invalid'
    if ((record.value?.byteLength ?? 0) > this.limits.maxValueBytes) return 'too-large'
    // A record larger than the whole budget would make lru-cache drop the existing entry and store nothing.
    if (recordSize(record) > this.limits.maxBytesPerRealm) return 'too-large'
    if (expires <= now) return 'expired'
    if (expires - created > this.limits.maxTtlMs) return 'ttl-too-long'
    if (created > now + this.limits.maxClockSkewMs) return 'from-future'
    return undefined
  }

  #lookup(realm: string, id: Uint8Array, now: number, markUsed: boolean): SessionRecord | undefined {
    const cache = this.#caches.get(realm)
    if (cache === undefined || !isValidId(id)) return undefined
    const key = idKey(id)
    const record = markUsed ? cache.get(key) : cache.peek(key)
    if (record === undefined) return undefined
    if (record.expires <= now) {
      this.#expire(cache, key, record)
      return undefined
    }
    return record
  }

  #expire(cache: RealmCache, key: string, record: SessionRecord): void {
    // lru-cache reports this removal as 'delete', which the disposer ignores.
    cache.delete(key)
    this.#expirations++
    this.#removed(record, 'expire')
  }

  #removed(record: SessionRecord, reason: ChangeReason): void {
    for (const watcher of this.#watchers) watcher.removed(record, reason)
  }

  #createCache(realm: string): RealmCache {
    const cache: RealmCache = new LRUCache<string, SessionRecord>({
      max: this.limits.maxEntriesPerRealm,
      // The byte budget is kept here (`merge`), not by lru-cache's `maxSize`: that keeps a size per
      // entry, 8 bytes a record, where a record's size follows from the record (`recordSize`).
      // disposeAfter rather than dispose: it runs once the cache is consistent, so watchers may read
      // the store. Only 'evict' is an eviction: 'set' is a merge replacing a record, 'delete' our own
      // removal of an expired one (reported by #expire).
      disposeAfter: (record, _key, reason) => {
        this.#shares.get(cache)?.remove(record.origin, recordSize(record))
        this.#expiries.get(cache)?.remove(record.expires)
        if (reason === 'set') this.#removed(record, 'replace')
        if (reason !== 'evict') return
        this.#evictions++
        this.#removed(record, 'evict')
      },
    })
    this.#caches.set(realm, cache)
    this.#shares.set(cache, new OriginShares(realm))
    this.#expiries.set(cache, new ExpiryWheel((key) => cache.peek(key)?.expires))
    return cache
  }
}

export function createReplicaStore(init: ReplicaStoreInit = {}): ReplicaStore {
  return new ReplicaStore(init)
}

/** The bytes a record is accounted for against the realm's byte budget. */
export function recordSize(record: SessionRecord): number {
  return payloadBytes(record) + record.origin.length + RECORD_OVERHEAD_BYTES
}

/** A record's id and value bytes; a stored record's without making its id and value on the way. */
export function payloadBytes(record: SessionRecord): number {
  return record instanceof StoredRecord
    ? record.byteLength
    : record.id.byteLength + (record.value?.byteLength ?? 0)
}

/** > 0 if `a` wins over `b`, < 0 if `b` wins, 0 for the same version. */
export function compareVersions(a: SessionRecord, b: SessionRecord): number {
  if (a.created !== b.created) return a.created > b.created ? 1 : -1
  if (a.origin === b.origin) return 0
  return a.origin > b.origin ? 1 : -1
}

/** The key of a record's id in its realm's cache: a stored record keeps it. */
function keyOf(record: SessionRecord): string {
  return record instanceof StoredRecord ? record.key : idKey(record.id)
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${field}: expected a positive integer, got ${value}`)
  }
  return value
}

function nonNegativeInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(`${field}: expected an integer >= 0, got ${value}`)
  }
  return value
}
