import {
  decodeSyncMessage,
  encodeSyncMessage,
  SyncKind,
  type SyncLimits,
  type SyncMessage,
  type SyncProofTable,
  type SyncRange,
} from '@tlsmesh/wire'
import { ownBytes } from '../thread/thread-port.ts'

/**
 * A sync message as it crosses between the threads of one process (sync's transport and its replica
 * side, see replica-port.ts): its ranges and wanted keys packed into typed arrays, which a port
 * transfers without copying, and its records and proofs as the wire's bytes, each proof in full once
 * a session and by number after. Cloning the ranges as objects (they hold bigints) costs 4-7x
 * decoding them, and decoding 4,096 of them from the wire about 1 ms, a long turn on a server's
 * thread; packed, they cross in 0.04-0.10 ms and are objects again in about 0.15 (BENCHMARKS 4c).
 */
export interface PackedSyncMessage {
  kind: SyncKind
  realm: string
  ranges: PackedRanges | undefined
  wanted: BigUint64Array | undefined
  /** The records and their proofs, as a RECORDS message of the wire; undefined when there are none. */
  page: Uint8Array | undefined
}

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
 * Where a 64-bit value's high and low 32-bit words sit in `wordsOf` its column: a BigUint64Array
 * holds each value in the platform's byte order.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
export const HIGH = LITTLE_ENDIAN ? 1 : 0
export const LOW = 1 - HIGH

/** A 64-bit column's values as 32-bit words (value i at 2i + HIGH and 2i + LOW), without copying. */
export function wordsOf(column: BigUint64Array): Uint32Array {
  return new Uint32Array(column.buffer, column.byteOffset, column.length * 2)
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
    page:
      message.records.length > 0
        ? ownBytes(encodeSyncMessage({ ...message, kind: SyncKind.RECORDS, ranges: [], wanted: [] }, sent))
        : undefined,
  }
}

/** The message `packed` was made of. `limits` bound its page, as the wire's decoder bounds a peer's. */
export function unpackSyncMessage(
  packed: PackedSyncMessage,
  received: SyncProofTable,
  limits: Readonly<SyncLimits>,
): SyncMessage {
  const page = packed.page !== undefined ? decodeSyncMessage(packed.page, limits, received) : undefined
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
  if (packed.page !== undefined) views.push(packed.page)
  const buffers = new Set<ArrayBuffer>()
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
