import { NotOwnerError, RecordTooLargeError, type SessionCache, type SessionRecord } from '@tlsmesh/store'
import type { EndpointCounters } from './endpoint-stats.ts'
import { resolveExptime } from './exptime.ts'
import { casUniqueOf, decodeStoredValue, encodeStoredValue } from './stored-value.ts'

/** A cache that can drop a whole realm; only needed when `allowFlushAll` is on. */
export interface FlushableSessionCache extends SessionCache {
  /** Drops (and, when replicated, tombstones) every live record of the realm. */
  flush(realm: string): void
}

export type StoreCommand = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas'

/** memcached's storage replies; `too-large` is its `SERVER_ERROR object too large for cache`. */
export type StoreResult = 'stored' | 'not-stored' | 'exists' | 'not-found' | 'too-large'

export type DeleteResult = 'deleted' | 'not-found' | 'exists'

export interface Hit {
  flags: number
  data: Uint8Array
  record: SessionRecord
}

/**
 * memcached's item semantics on top of a `SessionCache`, shared by both protocols. Everything is
 * synchronous, so a read-check-write (add, cas, append) cannot interleave with another client's
 * on this node; across nodes, the mesh's newest-wins merge decides. Each operation bumps the
 * `stats` counters memcached bumps for it, so both protocols count alike.
 */
export class CacheOperations {
  readonly #cache: SessionCache
  readonly #realm: string
  readonly #now: () => number
  readonly #maxValueBytes: number
  readonly #counters: EndpointCounters

  constructor(
    cache: SessionCache,
    realm: string,
    now: () => number,
    maxValueBytes: number,
    counters: EndpointCounters,
  ) {
    this.#cache = cache
    this.#realm = realm
    this.#now = now
    this.#maxValueBytes = maxValueBytes
    this.#counters = counters
  }

  /** One key of get/gets. */
  lookup(key: Uint8Array): Hit | undefined {
    const hit = this.#find(key)
    this.#counters.cmdGet++
    if (hit === undefined) this.#counters.getMisses++
    else this.#counters.getHits++
    return hit
  }

  /**
   * `cas` is the client's cas unique, 0n for none. The text `cas` command always checks it; the
   * binary protocol checks a nonzero one on set, replace, append and prepend, as memcached does.
   */
  store(
    command: StoreCommand,
    key: Uint8Array,
    flags: number,
    exptime: number,
    data: Uint8Array,
    cas: bigint,
  ): { result: StoreResult; record?: SessionRecord } {
    const checksCas = command === 'cas' || (cas !== 0n && command !== 'add')
    const outcome = this.#store(command, key, flags, exptime, data, cas, checksCas)
    const counters = this.#counters
    if (outcome.result === 'too-large') {
      counters.storeTooLarge++
      return outcome
    }
    counters.cmdSet++
    if (outcome.result === 'stored') counters.totalItems++
    if (checksCas) {
      if (outcome.result === 'stored') counters.casHits++
      else if (outcome.result === 'exists') counters.casBadval++
      else if (outcome.result === 'not-found') counters.casMisses++
    }
    return outcome
  }

  #store(
    command: StoreCommand,
    key: Uint8Array,
    flags: number,
    exptime: number,
    data: Uint8Array,
    cas: bigint,
    checksCas: boolean,
  ): { result: StoreResult; record?: SessionRecord } {
    const existing = live(this.#cache.get(this.#realm, key))
    if (command === 'add' && existing !== undefined) return { result: 'not-stored' }
    if (existing === undefined) {
      if (command === 'cas' || (checksCas && command === 'set')) return { result: 'not-found' }
      if (command !== 'set' && command !== 'add') return { result: 'not-stored' }
    }
    if (checksCas && existing !== undefined && casUniqueOf(existing) !== cas) return { result: 'exists' }

    const existingValue = existing?.value
    if (
      existing !== undefined &&
      existingValue !== undefined &&
      (command === 'append' || command === 'prepend')
    ) {
      // memcached ignores the flags and exptime of append/prepend: the item keeps its own.
      const old = decodeStoredValue(existingValue)
      if (old.data.byteLength + data.byteLength > this.#maxValueBytes) return { result: 'too-large' }
      const joined = command === 'append' ? Buffer.concat([old.data, data]) : Buffer.concat([data, old.data])
      // At least 1 ms: a TTL of 0 would mean the cache's default, not "what is left".
      return this.#write(
        key,
        encodeStoredValue(old.flags, joined),
        Math.max(1, existing.expires - this.#now()),
      )
    }

    const expiry = resolveExptime(exptime, this.#now())
    if (expiry.kind === 'expired') {
      // memcached stores the item already expired: the reply is STORED and the key reads as a miss.
      if (existing !== undefined) this.#deleteRecord(key)
      return { result: 'stored' }
    }
    // A TTL of 0 asks the cache for its default; the cache caps any TTL at the realm's cap.
    const written = this.#write(key, encodeStoredValue(flags, data), expiry.kind === 'ttl' ? expiry.ttlMs : 0)
    if (written.result === 'too-large' && command === 'set' && existing !== undefined) {
      this.#deleteRecord(key)
    }
    return written
  }

  /**
   * A storage command refused for its size before its value was read. When a set fails this way,
   * memcached unlinks the old item, so that a reader does not keep getting the value the client
   * meant to replace.
   */
  refuseTooLarge(command: StoreCommand, key: Uint8Array): void {
    this.#counters.storeTooLarge++
    if (command === 'set') this.#deleteRecord(key)
  }

  delete(key: Uint8Array, cas: bigint): DeleteResult {
    const result = this.#delete(key, cas)
    if (result === 'deleted') this.#counters.deleteHits++
    else if (result === 'not-found') this.#counters.deleteMisses++
    return result
  }

  #delete(key: Uint8Array, cas: bigint): DeleteResult {
    if (cas !== 0n) {
      const existing = this.#cache.get(this.#realm, key)
      if (existing === undefined) return 'not-found'
      if (casUniqueOf(existing) !== cas) return 'exists'
    }
    return this.#deleteRecord(key) ? 'deleted' : 'not-found'
  }

  /**
   * touch, and one key of gat/gats (memcached counts both as touches): the item as it is after the
   * touch (a touch is a new version, with its own cas). An exptime already past returns the item,
   * then it is gone, as in memcached.
   */
  touch(key: Uint8Array, exptime: number): Hit | undefined {
    const hit = this.#touch(key, exptime)
    this.#counters.cmdTouch++
    if (hit === undefined) this.#counters.touchMisses++
    else this.#counters.touchHits++
    return hit
  }

  #touch(key: Uint8Array, exptime: number): Hit | undefined {
    const expiry = resolveExptime(exptime, this.#now())
    if (expiry.kind === 'expired') {
      const hit = this.#find(key)
      if (hit !== undefined) this.#deleteRecord(key)
      return hit
    }
    if (!this.#touchRecord(key, expiry.kind === 'ttl' ? expiry.ttlMs : 0)) return undefined
    return this.#find(key)
  }

  flush(): void {
    ;(this.#cache as FlushableSessionCache).flush(this.#realm)
  }

  #find(key: Uint8Array): Hit | undefined {
    return toHit(this.#cache.get(this.#realm, key))
  }

  /** A delete of another node's session is refused by the cache (NotOwnerError): not found here. */
  #deleteRecord(key: Uint8Array): boolean {
    return this.#unlessNotOwner(() => this.#cache.delete(this.#realm, key))
  }

  #touchRecord(key: Uint8Array, ttlMs: number): boolean {
    return this.#unlessNotOwner(() => this.#cache.touch(this.#realm, key, ttlMs))
  }

  #unlessNotOwner(change: () => boolean): boolean {
    try {
      return change()
    } catch (err) {
      if (err instanceof Error && err.name === NotOwnerError.name) return false
      throw err
    }
  }

  #write(key: Uint8Array, value: Uint8Array, ttlMs: number): { result: StoreResult; record?: SessionRecord } {
    try {
      return { result: 'stored', record: this.#cache.set(this.#realm, key, value, ttlMs) }
    } catch (err) {
      if (err instanceof Error && err.name === RecordTooLargeError.name) return { result: 'too-large' }
      // Another node's session: only its origin may replace it (the mesh would refuse the new one).
      if (err instanceof Error && err.name === NotOwnerError.name) return { result: 'not-stored' }
      throw err
    }
  }
}

export function isFlushable(cache: SessionCache): cache is FlushableSessionCache {
  return typeof (cache as Partial<FlushableSessionCache>).flush === 'function'
}

function live(record: SessionRecord | undefined): SessionRecord | undefined {
  return record?.value === undefined ? undefined : record
}

function toHit(record: SessionRecord | undefined): Hit | undefined {
  // Read once: a stored record's value is a view made on each read.
  const value = record?.value
  if (value === undefined) return undefined
  const { flags, data } = decodeStoredValue(value)
  return { flags, data, record: record! }
}
