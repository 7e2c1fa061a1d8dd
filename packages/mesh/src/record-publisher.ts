import type { RecordProof, SessionRecord } from '@tlsmesh/store'
import { BatchBuilder, DEFAULT_LIMITS, type WireLimits, type WireRecord } from '@tlsmesh/wire'
import { type MeshClock, realClock, type TimerHandle } from './clock.ts'
import type { MeshCounters } from './mesh-metrics.ts'
import type { RecordAuthenticator } from './record-auth.ts'

export interface RecordPublisherInit {
  maxBatchBytes: number
  maxBatchRecords: number
  /**
   * At most one flush this often, in ms (0: one each turn of the event loop). A record that comes
   * after a quiet spell still goes out on the next turn; records that come sooner after a flush wait
   * for the rest of the interval, so a busy server's sessions share batches and their signatures.
   */
  flushIntervalMs?: number
  /** The receivers' wire limits (default the wire defaults): a batch never goes over them. */
  limits?: Partial<WireLimits>
}

export interface RecordPublisherComponents {
  /** Sends one encoded batch on the realm's topic; resolves to the number of peers it went to. */
  publish: (realm: string, batch: Uint8Array) => Promise<number>
  /** Signs each batch. */
  auth: RecordAuthenticator
  /** Gives the stored records of a signed batch its proof, so that sync can relay them. */
  attachProof: (record: SessionRecord, proof: RecordProof) => void
  counters: MeshCounters
  onError?: (err: unknown) => void
  /** Times the flush interval (default the real clock). */
  clock?: MeshClock
}

/**
 * Packs records into one batch per realm and flushes on the next turn of the event loop, or once the
 * flush interval has passed since the last flush, or when a batch is full: one signed gossip message
 * then carries every session made meanwhile, and one signature (made off the handshake path, at the
 * flush) proves all of them. A TLS server makes one session per handshake, each in a turn of its
 * own: without the interval, each would travel alone, and every receiver would pay a message and a
 * signature check for it.
 */
export class RecordPublisher {
  readonly #builders = new Map<string, BatchBuilder>()
  /** The stored records behind each builder's wire records, in the same order. */
  readonly #pending = new Map<string, SessionRecord[]>()
  #immediate: NodeJS.Immediate | undefined
  #timer: TimerHandle | undefined
  #lastFlush = Number.NEGATIVE_INFINITY
  readonly #interval: number
  readonly #clock: MeshClock
  readonly #limits: Partial<WireLimits>
  readonly #components: RecordPublisherComponents

  /**
   * Throws a RangeError when a batch of `maxBatchBytes` cannot hold one record of the largest size
   * the limits allow: at start-up, rather than on every later `add`.
   */
  constructor(init: RecordPublisherInit, components: RecordPublisherComponents) {
    const limits = { ...init.limits }
    this.#limits = {
      ...limits,
      maxMessageBytes: Math.min(init.maxBatchBytes, limits.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes),
      maxRecords: Math.min(init.maxBatchRecords, limits.maxRecords ?? DEFAULT_LIMITS.maxRecords),
    }
    new BatchBuilder('r'.repeat(limits.maxRealmBytes ?? DEFAULT_LIMITS.maxRealmBytes), this.#limits)
    this.#components = components
    this.#interval = init.flushIntervalMs ?? 0
    if (!(this.#interval >= 0)) throw new RangeError('flushIntervalMs must be 0 or more')
    this.#clock = components.clock ?? realClock
  }

  add(record: SessionRecord): void {
    let builder = this.#builders.get(record.realm)
    if (builder === undefined) {
      builder = new BatchBuilder(record.realm, this.#limits)
      this.#builders.set(record.realm, builder)
      this.#pending.set(record.realm, [])
    }
    const wireRecord: WireRecord = { id: record.id, created: record.created, expires: record.expires }
    const value = record.value
    if (value !== undefined) wireRecord.value = value
    if (!builder.add(wireRecord)) {
      this.#flushRealm(record.realm, builder)
      builder.add(wireRecord)
    }
    this.#pending.get(record.realm)!.push(record)
    this.#schedule()
  }

  /** Publishes every pending batch now. */
  flush(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate)
    this.#clock.clearTimer(this.#timer)
    this.#immediate = this.#timer = undefined
    for (const [realm, builder] of this.#builders) {
      if (builder.count === 0) continue
      this.#flushRealm(realm, builder)
      this.#lastFlush = this.#clock.now()
    }
  }

  stop(): void {
    this.flush()
  }

  #schedule(): void {
    if (this.#immediate !== undefined || this.#timer !== undefined) return
    // At most the interval, should the clock have stepped back since the last flush.
    const wait = Math.min(this.#interval, this.#lastFlush + this.#interval - this.#clock.now())
    if (wait > 0) this.#timer = this.#clock.setTimer(wait, () => this.flush())
    else this.#immediate = setImmediate(() => this.flush())
  }

  #flushRealm(realm: string, builder: BatchBuilder): void {
    const count = builder.count
    const { auth, attachProof, counters } = this.#components
    const { signature, proof } = auth.sign(realm, builder.records)
    const bytes = builder.build(signature)
    builder.reset()
    const records = this.#pending.get(realm)!
    for (const record of records) attachProof(record, proof)
    records.length = 0
    counters.recordsPublished += count
    counters.messagesPublished++
    counters.bytesPublished += bytes.byteLength
    this.#components.publish(realm, bytes).then(
      (recipients) => {
        if (recipients === 0) counters.publishedToNobody++
      },
      (err: unknown) => {
        counters.publishErrors++
        this.#components.onError?.(err)
      },
    )
  }
}
