import type { ReplicaStore, SessionRecord } from '@tlsmesh/store'
import { IncrementalDigest } from './incremental-digest.ts'
import { TimeSlice } from './time-slice.ts'

const DEFAULT_SLICE_MS = 4

export interface RealmDigestsComponents {
  store: ReplicaStore
  now: () => number
}

export interface RealmDigestsOptions {
  /** Work this long at most, while adding what the replica held at start, before yielding. Default 4 ms. */
  sliceMs?: number
}

/**
 * Applies the replica's changes to the digests on the next turn of the event loop, in order: a write
 * comes from a TLS handshake or a memcached `set` waiting for its reply, and hashing and placing the
 * record (a few microseconds) need not delay either. A reconciliation reads the digest across turns
 * and tolerates ranges changing between its rounds; it starts from what is pending (`of`).
 */
function deferredChanges(digests: ReadonlyMap<string, IncrementalDigest>) {
  const pending: Array<{ stored: boolean; record: SessionRecord }> = []
  const apply = (): void => {
    for (const { stored, record } of pending.splice(0)) {
      const digest = digests.get(record.realm)!
      if (stored) digest.add(record)
      else digest.remove(record)
    }
  }
  const defer = (stored: boolean, record: SessionRecord): void => {
    if (!digests.has(record.realm)) return
    if (pending.push({ stored, record }) === 1) setImmediate(apply)
  }
  return {
    watcher: {
      stored: (record: SessionRecord) => defer(true, record),
      removed: (record: SessionRecord) => defer(false, record),
    },
    /** Applies what is pending now: a reconciliation starts from the replica as it is. */
    flush: apply,
  }
}

/**
 * One incremental digest per realm served, fed by the replica's changes, so that a reconciliation
 * reads its realm's digest instead of building one: at 1,000,000 records, building one would hold
 * the event loop 1 to 2 s per session. The replica may hold records at start (a store kept across a
 * mesh restart): those are added in slices, and a realm's digest is handed out once they are in.
 */
export class RealmDigests {
  readonly #realms: readonly string[]
  readonly #store: ReplicaStore
  readonly #now: () => number
  readonly #sliceMs: number
  readonly #digests = new Map<string, Promise<IncrementalDigest>>()
  #stop: (() => void) | undefined
  #flush: (() => void) | undefined

  constructor(
    realms: readonly string[],
    components: RealmDigestsComponents,
    options: RealmDigestsOptions = {},
  ) {
    this.#realms = realms
    this.#store = components.store
    this.#now = components.now
    this.#sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS
  }

  /** Follows the replica from now on, and adds what it holds already, in the background. */
  start(): void {
    if (this.#stop !== undefined) return
    const digests = new Map(this.#realms.map((realm) => [realm, new IncrementalDigest(this.#now)]))
    const changes = deferredChanges(digests)
    const unwatch = this.#store.watch(changes.watcher)
    this.#flush = changes.flush
    const stopping = new AbortController()
    this.#stop = () => {
      unwatch()
      stopping.abort(new Error('the realm digests were stopped'))
    }
    const now = this.#now()
    // One realm after another: slices of several realms at once would hold the event loop as long.
    let previous: Promise<unknown> = Promise.resolve()
    for (const [realm, digest] of digests) {
      // Copied in the turn the watch began: the replica changes between slices, and its entries must
      // not change while being iterated.
      const held = [...this.#store.entries(realm, now)]
      const seeded = previous.then(() => this.#seed(digest, held, stopping.signal)).then(() => digest)
      seeded.catch(() => {})
      this.#digests.set(realm, seeded)
      previous = seeded
    }
  }

  stop(): void {
    this.#stop?.()
    this.#stop = undefined
    this.#flush = undefined
    this.#digests.clear()
  }

  /** The realm's digest, once what the replica held at start is in it. */
  of(realm: string): Promise<IncrementalDigest> {
    this.#flush?.()
    return this.#digests.get(realm) ?? Promise.reject(new Error(`no digest of realm ${realm} (not served)`))
  }

  async #seed(digest: IncrementalDigest, records: SessionRecord[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    const slice = new TimeSlice(this.#sliceMs, signal)
    for (const record of records) {
      // A record replaced or gone since the copy was reported while not in the digest yet: skip it.
      if (this.#store.peek(record.realm, record.id, this.#now()) === record) digest.add(record)
      if (slice.spent()) await slice.handBack()
    }
  }
}
