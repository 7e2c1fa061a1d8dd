// Two replicas of one process kept alike across its threads (bench/lib/split-node-process.ts): the
// records each stores, packed into one transferable buffer per event-loop turn. Values are session
// secrets: they go only to the other thread of the same process. Not the wire's batch codec: a turn's
// records span realms and run past a batch's record and byte limits, and nothing here is signed.
import { type PackedRecords, packRecords, unpackRecords } from '@tlsmesh/mesh/thread'
import type { MergeOutcome, RecordSource, ReplicaStore, SessionRecord } from '@tlsmesh/store'

/** One turn's stored records (packed-records.ts in @tlsmesh/mesh/thread). */
export type FeedBatch = PackedRecords

/** A worker thread's port, from either side: a `Worker` or the worker's `parentPort`. */
export interface ReplicaLink {
  postMessage(value: unknown, transfer: ArrayBuffer[]): void
  on(event: 'message', listener: (message: { kind?: string } & Partial<FeedBatch>) => void): unknown
}

/**
 * Keeps two replicas of one process alike: what `store` stores from now on goes to the other side, one
 * packed batch a turn, and what comes from the other side is merged here as `incoming` (the mesh's side
 * takes the server's writes as `local`, and publishes them). What came from the other side is not sent
 * back. Returns what stops the sending.
 */
export function mirrorReplica(
  store: ReplicaStore,
  link: ReplicaLink,
  incoming: RecordSource,
  now: () => number,
): () => void {
  let pending: SessionRecord[] = []
  let scheduled = false
  let applying = false
  const flush = (): void => {
    scheduled = false
    const batch = packRecords(pending)
    pending = []
    link.postMessage({ kind: 'records', ...batch }, [batch.buffer])
  }
  link.on('message', (message) => {
    if (message.kind !== 'records') return
    applying = true
    try {
      mergeBatch(store, message as FeedBatch, now(), incoming)
    } finally {
      applying = false
    }
  })
  return store.watch({
    stored: (record) => {
      if (applying) return
      pending.push(record)
      if (scheduled) return
      scheduled = true
      setImmediate(flush)
    },
    removed: () => {},
  })
}

/** Merges a batch into `store`; returns how many were stored. */
export function mergeBatch(
  store: ReplicaStore,
  batch: FeedBatch,
  now: number,
  source: RecordSource = 'sync',
): number {
  let stored = 0
  for (const record of unpackRecords(batch)) {
    const outcome: MergeOutcome = store.merge(record, now, source)
    if (outcome === 'added' || outcome === 'replaced') stored++
  }
  return stored
}

export { packRecords }
