// Two replicas of one process kept alike across its threads (bench/lib/split-node-process.ts): the
// records each stores, packed into one transferable buffer per event-loop turn. Values are session
// secrets: they go only to the other thread of the same process. Not the wire's batch codec: a turn's
// records span realms and run past a batch's record and byte limits, and nothing here is signed.
import type { MergeOutcome, RecordSource, ReplicaStore, SessionRecord } from '@tlsmesh/store'

/** One turn's stored records: a table of the realms and origins they name, and their bytes. */
export interface FeedBatch {
  strings: string[]
  buffer: ArrayBuffer
  count: number
}

/**
 * Each record's header: realm index u16, origin index u16, id length u16, value length i32 (-1: a
 * tombstone), created f64, expires f64; its id and value bytes follow.
 */
const HEADER_BYTES = 2 + 2 + 2 + 4 + 8 + 8

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

export function packRecords(records: SessionRecord[]): FeedBatch {
  const strings: string[] = []
  const index = new Map<string, number>()
  const indexOf = (s: string): number => {
    let i = index.get(s)
    if (i === undefined) {
      i = strings.push(s) - 1
      index.set(s, i)
    }
    return i
  }
  const parts = records.map((r) => ({ r, id: r.id, value: r.value }))
  let bytes = 0
  for (const { id, value } of parts) bytes += HEADER_BYTES + id.byteLength + (value?.byteLength ?? 0)
  const buffer = new ArrayBuffer(bytes)
  const view = new DataView(buffer)
  const out = new Uint8Array(buffer)
  let at = 0
  for (const { r, id, value } of parts) {
    view.setUint16(at, indexOf(r.realm))
    view.setUint16(at + 2, indexOf(r.origin))
    view.setUint16(at + 4, id.byteLength)
    view.setInt32(at + 6, value === undefined ? -1 : value.byteLength)
    view.setFloat64(at + 10, r.created)
    view.setFloat64(at + 18, r.expires)
    at += HEADER_BYTES
    out.set(id, at)
    at += id.byteLength
    if (value !== undefined) {
      out.set(value, at)
      at += value.byteLength
    }
  }
  return { strings, buffer, count: records.length }
}

/** Merges a batch into `store`; returns how many were stored. */
export function mergeBatch(
  store: ReplicaStore,
  batch: FeedBatch,
  now: number,
  source: RecordSource = 'sync',
): number {
  const view = new DataView(batch.buffer)
  const bytes = new Uint8Array(batch.buffer)
  let at = 0
  let stored = 0
  for (let n = 0; n < batch.count; n++) {
    const realm = batch.strings[view.getUint16(at)]!
    const origin = batch.strings[view.getUint16(at + 2)]!
    const idLength = view.getUint16(at + 4)
    const valueLength = view.getInt32(at + 6)
    const created = view.getFloat64(at + 10)
    const expires = view.getFloat64(at + 18)
    at += HEADER_BYTES
    const id = bytes.subarray(at, at + idLength)
    at += idLength
    const record: SessionRecord = { realm, id, created, expires, origin }
    if (valueLength >= 0) {
      record.value = bytes.subarray(at, at + valueLength)
      at += valueLength
    }
    const outcome: MergeOutcome = store.merge(record, now, source)
    if (outcome === 'added' || outcome === 'replaced') stored++
  }
  return stored
}
