import type { SessionRecord } from '@tlsmesh/store'
import { BatchBuilder, type WireRecord } from '@tlsmesh/wire'
import type { MeshCounters } from './mesh-metrics.ts'

export interface RecordPublisherInit {
  maxBatchBytes: number
  maxBatchRecords: number
}

export interface RecordPublisherComponents {
  /** Sends one encoded batch on the realm's topic; resolves to the number of peers it went to. */
  publish: (realm: string, batch: Uint8Array) => Promise<number>
  counters: MeshCounters
  onError?: (err: unknown) => void
}

/**
 * Packs records into one batch per realm and flushes on the next turn of the event loop or when a
 * batch is full: one signed gossip message then carries every session made in that turn.
 */
export class RecordPublisher {
  private readonly builders = new Map<string, BatchBuilder>()
  private scheduled: NodeJS.Immediate | undefined
  private readonly init: RecordPublisherInit
  private readonly components: RecordPublisherComponents

  constructor(init: RecordPublisherInit, components: RecordPublisherComponents) {
    this.init = init
    this.components = components
  }

  add(record: SessionRecord): void {
    let builder = this.builders.get(record.realm)
    if (builder === undefined) {
      builder = new BatchBuilder(record.realm, {
        maxMessageBytes: this.init.maxBatchBytes,
        maxRecords: this.init.maxBatchRecords,
      })
      this.builders.set(record.realm, builder)
    }
    const wireRecord: WireRecord = { id: record.id, created: record.created, expires: record.expires }
    if (record.value !== undefined) wireRecord.value = record.value
    if (!builder.add(wireRecord)) {
      this.flushRealm(record.realm, builder)
      builder.add(wireRecord)
    }
    this.scheduled ??= setImmediate(() => this.flush())
  }

  /** Publishes every pending batch now. */
  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled)
      this.scheduled = undefined
    }
    for (const [realm, builder] of this.builders) {
      if (builder.count > 0) this.flushRealm(realm, builder)
    }
  }

  stop(): void {
    this.flush()
  }

  private flushRealm(realm: string, builder: BatchBuilder): void {
    const count = builder.count
    const bytes = builder.build()
    builder.reset()
    const { counters } = this.components
    counters.recordsPublished += count
    counters.messagesPublished++
    counters.bytesPublished += bytes.byteLength
    this.components.publish(realm, bytes).then(
      (recipients) => {
        if (recipients === 0) counters.publishedToNobody++
      },
      (err: unknown) => {
        counters.publishErrors++
        this.components.onError?.(err)
      },
    )
  }
}
