import type { RecordProof, SessionRecord } from '@tlsmesh/store'
import { BatchBuilder, DEFAULT_LIMITS, type WireLimits, type WireRecord } from '@tlsmesh/wire'
import type { MeshCounters } from './mesh-metrics.ts'
import type { RecordAuthenticator } from './record-auth.ts'

export interface RecordPublisherInit {
  maxBatchBytes: number
  maxBatchRecords: number
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
}

/**
 * Packs records into one batch per realm and flushes on the next turn of the event loop or when a
 * batch is full: one signed gossip message then carries every session made in that turn, and one
 * signature (made off the handshake path, at the flush) proves all of them.
 */
export class RecordPublisher {
  readonly #builders = new Map<string, BatchBuilder>()
  /** The stored records behind each builder's wire records, in the same order. */
  readonly #pending = new Map<string, SessionRecord[]>()
  #scheduled: NodeJS.Immediate | undefined
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
    this.#scheduled ??= setImmediate(() => this.flush())
  }

  /** Publishes every pending batch now. */
  flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled)
      this.#scheduled = undefined
    }
    for (const [realm, builder] of this.#builders) {
      if (builder.count > 0) this.#flushRealm(realm, builder)
    }
  }

  stop(): void {
    this.flush()
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
