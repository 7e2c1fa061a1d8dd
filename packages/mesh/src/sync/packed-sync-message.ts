import type { RecordProof } from '@tlsmesh/store'
import type {
  ProvenWireRecord,
  SyncKind,
  SyncLimits,
  SyncMessage,
  SyncProofTable,
  SyncRange,
} from '@tlsmesh/wire'
import { readRecordFields, recordFieldsBytes, writeRecordFields } from '../thread/packed-records.ts'
import { ownBytes } from '../thread/thread-port.ts'

/**
 * A sync message as it crosses between the threads of one process (sync's transport and its replica
 * side, see replica-port.ts): its ranges and wanted keys packed into typed arrays, which a port
 * transfers without copying, and its records in one buffer beside their proofs, each proof in full
 * once a session and by number after. Cloning the ranges as objects (they hold bigints) costs 4-7x
 * decoding them, and decoding 4,096 of them from the wire about 1 ms, a long turn on a server's
 * thread; packed, they cross in 0.04-0.10 ms and are objects again in about 0.15 (BENCHMARKS 4c).
 */
export interface PackedSyncMessage {
  kind: SyncKind
  realm: string
  ranges: PackedRanges | undefined
  wanted: BigUint64Array | undefined
  /** The records and their proofs; undefined when there are none. */
  page: PackedPage | undefined
}

/**
 * A page of records as it crosses: each record's fields and bytes in one buffer, and the page's
 * proofs, each in full (its bytes in buffers of their own) the first time a session's direction
 * carries it and by the number the sender's table gave it after. Packing writes no object a record:
 * the wire's encoder, which crossed pages before, made about 100 KB of garbage for a page of 128 on
 * the server's thread (a catch-up of 100,000 records sends some 800 pages).
 */
export interface PackedPage {
  /** Per record: its proof's index in `proofs` (u16), then its fields (thread/packed-records.ts). */
  records: ArrayBuffer
  count: number
  proofs: Array<RecordProof | number>
}

const PROOF_INDEX_BYTES = 2

/** Ranges column by column; a range's items are `items*[itemStarts[i], itemStarts[i + 1])`. */
export interface PackedRanges {
  depths: Uint8Array
  prefixes: BigUint64Array
  fingerprints: BigUint64Array
  counts: Uint32Array
  /** 1 where the range was listed (its items may be none). */
  listed: Uint8Array
  itemStarts: Uint32Array
  itemKeys: BigUint64Array
  itemFingerprints: BigUint64Array
}

/**
 * Packs `message`; `sent` numbers the proofs of this session's direction (the receiver unpacks with
 * a table of its own, in the same order).
 */
export function packSyncMessage(message: SyncMessage, sent: SyncProofTable): PackedSyncMessage {
  return {
    kind: message.kind,
    realm: message.realm,
    ranges: message.ranges.length > 0 ? packRanges(message.ranges) : undefined,
    wanted: message.wanted.length > 0 ? BigUint64Array.from(message.wanted) : undefined,
    page: message.records.length > 0 ? packPage(message.records, message.proofs, sent) : undefined,
  }
}

/** The message `packed` was made of. `limits` bound its page, as the wire's decoder bounds a peer's. */
export function unpackSyncMessage(
  packed: PackedSyncMessage,
  received: SyncProofTable,
  limits: Readonly<SyncLimits>,
): SyncMessage {
  const page = packed.page !== undefined ? unpackPage(packed.page, received, limits) : undefined
  return {
    kind: packed.kind,
    realm: packed.realm,
    ranges: packed.ranges !== undefined ? unpackRanges(packed.ranges) : [],
    records: page?.records ?? [],
    proofs: page?.proofs ?? [],
    wanted: packed.wanted !== undefined ? [...packed.wanted] : [],
  }
}

/**
 * The buffers a port may transfer instead of copying: those a view covers whole (one onto part of a
 * pooled buffer is copied, as the rest of that buffer is not the message's).
 */
export function transferList(packed: PackedSyncMessage): ArrayBuffer[] {
  const views: ArrayBufferView[] = []
  if (packed.ranges !== undefined) views.push(...(Object.values(packed.ranges) as ArrayBufferView[]))
  if (packed.wanted !== undefined) views.push(packed.wanted)
  const buffers = new Set<ArrayBuffer>()
  if (packed.page !== undefined) buffers.add(packed.page.records)
  for (const view of views) {
    const { buffer } = view
    if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength) {
      buffers.add(buffer)
    }
  }
  return [...buffers]
}

export function packRanges(ranges: readonly SyncRange[]): PackedRanges {
  const n = ranges.length
  let items = 0
  for (const range of ranges) items += range.items?.length ?? 0
  const packed: PackedRanges = {
    depths: new Uint8Array(n),
    prefixes: new BigUint64Array(n),
    fingerprints: new BigUint64Array(n),
    counts: new Uint32Array(n),
    listed: new Uint8Array(n),
    itemStarts: new Uint32Array(n + 1),
    itemKeys: new BigUint64Array(items),
    itemFingerprints: new BigUint64Array(items),
  }
  let at = 0
  for (let i = 0; i < n; i++) {
    const range = ranges[i]!
    packed.depths[i] = range.depth
    packed.prefixes[i] = range.prefix
    packed.fingerprints[i] = range.fingerprint
    packed.counts[i] = range.count
    packed.itemStarts[i] = at
    if (range.items !== undefined) {
      packed.listed[i] = 1
      for (const item of range.items) {
        packed.itemKeys[at] = item.key
        packed.itemFingerprints[at++] = item.fingerprint
      }
    }
  }
  packed.itemStarts[n] = at
  return packed
}

export function unpackRanges(packed: PackedRanges): SyncRange[] {
  const n = packed.depths.length
  const ranges: SyncRange[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const range: SyncRange = {
      depth: packed.depths[i]!,
      prefix: packed.prefixes[i]!,
      fingerprint: packed.fingerprints[i]!,
      count: packed.counts[i]!,
    }
    if (packed.listed[i] === 1) {
      const end = packed.itemStarts[i + 1]!
      const items = new Array(end - packed.itemStarts[i]!)
      for (let at = packed.itemStarts[i]!, k = 0; at < end; at++, k++) {
        items[k] = { key: packed.itemKeys[at]!, fingerprint: packed.itemFingerprints[at]! }
      }
      range.items = items
    }
    ranges[i] = range
  }
  return ranges
}

function packPage(
  records: readonly ProvenWireRecord[],
  proofs: readonly RecordProof[],
  sent: SyncProofTable,
): PackedPage {
  let bytes = 0
  for (const record of records) bytes += PROOF_INDEX_BYTES + recordFieldsBytes(record)
  const buffer = new ArrayBuffer(bytes)
  const view = new DataView(buffer)
  const out = new Uint8Array(buffer)
  let at = 0
  for (const record of records) {
    view.setUint16(at, record.proof)
    at = writeRecordFields(view, out, at + PROOF_INDEX_BYTES, record)
  }
  return {
    records: buffer,
    count: records.length,
    proofs: proofs.map((proof) => {
      const number = sent.numberOf(proof)
      if (number !== undefined) return number
      sent.add(proof)
      return { origin: proof.origin, signature: ownBytes(proof.signature), digests: ownBytes(proof.digests) }
    }),
  }
}

/**
 * The records and proofs of `page`, the records' ids and values views onto its buffer. `limits`
 * bound it as the wire's decoder bounds a peer's page; a page that breaks them, or names a proof
 * the session never carried, is refused whole.
 */
function unpackPage(
  page: PackedPage,
  received: SyncProofTable,
  limits: Readonly<SyncLimits>,
): { records: ProvenWireRecord[]; proofs: RecordProof[] } {
  if (page.count > limits.maxRecords || page.proofs.length > limits.maxProofs) {
    throw new RangeError(
      `a page of ${page.count} records and ${page.proofs.length} proofs is over the limits`,
    )
  }
  const proofs = page.proofs.map((proof, index) => {
    if (typeof proof !== 'number') {
      received.add(proof)
      return proof
    }
    const named = received.proof(proof)
    if (named === undefined) throw new RangeError(`proof ${index}: names proof ${proof}, never sent`)
    return named
  })
  const view = new DataView(page.records)
  const bytes = new Uint8Array(page.records)
  const records: ProvenWireRecord[] = new Array(page.count)
  let at = 0
  for (let n = 0; n < page.count; n++) {
    const proof = view.getUint16(at)
    const origin = proofs[proof]?.origin
    if (origin === undefined) throw new RangeError(`record ${n}: no proof`)
    const fields = readRecordFields(view, bytes, at + PROOF_INDEX_BYTES)
    if (fields.id.byteLength > limits.maxIdBytes || (fields.value?.byteLength ?? 0) > limits.maxValueBytes) {
      throw new RangeError(`record ${n}: over the id or value limit`)
    }
    at += PROOF_INDEX_BYTES + recordFieldsBytes(fields)
    records[n] = { ...fields, origin, proof }
  }
  if (at !== bytes.byteLength) throw new RangeError('a page whose records do not fill its buffer')
  return { records, proofs }
}
