// Fuzz targets for the wire decoders: everything a peer sends goes through one of them. A decoder
// may return or throw a WireDecodeError with a known code; anything else it throws is a finding, and
// so is a decoded message that does not survive encode -> decode unchanged (the encoders refuse what
// the decoders refuse, so whatever was accepted must be re-encodable), whose encoded size differs
// from the size the batch builder computes without encoding, that shares memory with the input, or
// (sync) with a record whose proof is not in the message or whose origin is not its proof's.
import { isDeepStrictEqual } from 'node:util'
import {
  BroadcastKind,
  batchHeaderBytes,
  decodeBatch,
  decodeBroadcastFrame,
  decodeSyncMessage,
  encodeBatch,
  encodeBroadcastFrame,
  encodedRecordBytes,
  encodeSyncMessage,
  RECORD_DIGEST_BYTES,
  SIGNATURE_BYTES,
  SyncKind,
  type SyncLimits,
  WIRE_DECODE_ERROR_CODES,
  WIRE_VERSION,
  WireDecodeError,
  type WireLimits,
} from '@tlsmesh/wire'
import type { FuzzTarget } from './coverage-fuzzer.ts'

/** A property of the decoders that does not hold: what the fuzzer reports. */
export class DecoderPropertyError extends Error {
  static override name = 'DecoderPropertyError'
  override name = 'DecoderPropertyError'
}

/** Limits small enough that short inputs reach every limit check. */
const TIGHT: WireLimits = {
  maxMessageBytes: 512,
  maxRecords: 3,
  maxIdBytes: 16,
  maxValueBytes: 32,
  maxRealmBytes: 8,
  maxOriginBytes: 16,
}
const TIGHT_SYNC: SyncLimits = {
  ...TIGHT,
  maxProofs: 2,
  maxProofDigests: 3,
  maxRanges: 3,
  maxItemsPerRange: 2,
  maxWanted: 3,
}

/**
 * Bytes compared by content and bigints by value, whatever the array type: a decoder fed a Node
 * Buffer hands out Buffers where one fed a Uint8Array hands out Uint8Arrays.
 */
function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return `bytes:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
  if (typeof value === 'bigint') return `${value}n`
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]))
  }
  return value
}
const sameContent = (a: unknown, b: unknown): boolean => isDeepStrictEqual(canonical(a), canonical(b))

/** Rethrows anything but a WireDecodeError with a listed code: the one way a decoder may refuse. */
function refusedProperly(err: unknown): void {
  if (err instanceof WireDecodeError && (WIRE_DECODE_ERROR_CODES as readonly string[]).includes(err.code)) {
    return
  }
  throw err
}

const NOW = 1_750_000_000_000
// Short enough for the tight limits.
const ORIGIN = '12D3KooWGzxzKZYveHXtU1Wvzfr8ay5TN5Kp6Sxr5rGvr2bLXLbX'.slice(0, 12)
// The decoders check a signature's length, never its bytes (the mesh does).
const SIGNATURE = Uint8Array.from({ length: SIGNATURE_BYTES }, (_, i) => i)
const id = (n: number): Uint8Array => Uint8Array.from({ length: 8 }, (_, i) => (n * 31 + i) & 0xff)
const record = (n: number, withOrigin: boolean) => ({
  id: id(n),
  ...(n % 3 === 0 ? {} : { value: Uint8Array.from({ length: n % 20 }, (_, i) => i) }),
  created: NOW + n,
  expires: NOW + n + 300_000,
  ...(withOrigin ? { origin: ORIGIN } : {}),
})

/** Shares memory with `data`: a decoder promises copies, so that what a replica keeps does not pin a message. */
const pins = (data: Buffer, bytes: Uint8Array | undefined): boolean => bytes?.buffer === data.buffer

function checkBatch(data: Buffer, limits: WireLimits | undefined): void {
  let batch: ReturnType<typeof decodeBatch>
  try {
    batch = decodeBatch(data, limits)
  } catch (err) {
    refusedProperly(err)
    return
  }
  // decodeBatch promises copies: a replica holding a record must not pin the message (or, for a Node
  // Buffer from a socket, the socket's whole 64 KiB read).
  for (const r of batch.records) {
    if (pins(data, r.id) || pins(data, r.value)) {
      throw new DecoderPropertyError('a decoded record shares memory with the message')
    }
  }
  if (pins(data, batch.signature))
    throw new DecoderPropertyError('a signature shares memory with the message')
  const encoded = encodeBatch(batch, limits)
  const computed =
    batchHeaderBytes(batch.realm) + batch.records.reduce((n, r) => n + encodedRecordBytes(r), 0)
  if (computed !== encoded.byteLength) {
    throw new DecoderPropertyError(`computed size ${computed} != encoded size ${encoded.byteLength}`)
  }
  if (!sameContent(decodeBatch(encoded, limits), batch)) {
    throw new DecoderPropertyError('a decoded batch changed through encode -> decode')
  }
}

export const wireBatchTarget: FuzzTarget = {
  name: 'wire-batch',
  coverage: ['/packages/wire/src/', 'protons-runtime'],
  fuzz(data) {
    checkBatch(data, undefined)
    checkBatch(data, TIGHT)
  },
  seeds: () => [
    Buffer.from(encodeBatch({ realm: 'web', records: [], signature: SIGNATURE })),
    Buffer.from(encodeBatch({ realm: 'web', records: [record(1, false)], signature: SIGNATURE })),
    Buffer.from(
      encodeBatch({
        realm: 'a.b-c',
        records: [record(1, false), record(2, true), record(3, false)],
        signature: SIGNATURE,
      }),
    ),
  ],
  // Field tags of RecordBatch and WireRecord (field << 3 | wire type), a signature's tag and length,
  // this version and the next.
  dictionary: [
    [0x08, WIRE_VERSION],
    [0x12],
    [0x1a],
    [0x22, SIGNATURE_BYTES],
    [0x0a],
    [0x18],
    [0x20],
    [0x2a],
    [0x30],
    [0x08, WIRE_VERSION + 1],
  ].map((b) => Buffer.from(b)),
}

function checkSync(data: Buffer, limits: SyncLimits | undefined): void {
  let message: ReturnType<typeof decodeSyncMessage>
  try {
    message = decodeSyncMessage(data, limits)
  } catch (err) {
    refusedProperly(err)
    return
  }
  for (const r of message.records) {
    if (message.proofs[r.proof]?.origin !== r.origin) {
      throw new DecoderPropertyError("a decoded record's proof is missing or names another origin")
    }
    if (pins(data, r.id) || pins(data, r.value)) {
      throw new DecoderPropertyError('a decoded record shares memory with the message')
    }
  }
  for (const p of message.proofs) {
    if (pins(data, p.signature) || pins(data, p.digests)) {
      throw new DecoderPropertyError('a decoded proof shares memory with the message')
    }
  }
  if (!sameContent(decodeSyncMessage(encodeSyncMessage(message), limits), message)) {
    throw new DecoderPropertyError('a decoded sync message changed through encode -> decode')
  }
}

export const wireSyncTarget: FuzzTarget = {
  name: 'wire-sync',
  coverage: ['/packages/wire/src/', 'protons-runtime'],
  fuzz(data) {
    checkSync(data, undefined)
    checkSync(data, TIGHT_SYNC)
  },
  seeds: () => [
    Buffer.from(
      encodeSyncMessage({
        kind: SyncKind.QUERY,
        realm: 'web',
        ranges: [{ depth: 0, prefix: 0n, fingerprint: 0x1234n, count: 3 }],
        records: [],
        proofs: [],
        wanted: [],
      }),
    ),
    Buffer.from(
      encodeSyncMessage({
        kind: SyncKind.ANSWER,
        realm: 'web',
        ranges: [
          { depth: 1, prefix: 7n, fingerprint: 1n, count: 2, items: [{ key: 0x7fffn, fingerprint: 9n }] },
          { depth: 2, prefix: 0x1fn, fingerprint: 2n, count: 40 },
        ],
        records: [],
        proofs: [],
        wanted: [],
      }),
    ),
    Buffer.from(
      encodeSyncMessage({
        kind: SyncKind.RECORDS,
        realm: 'web',
        ranges: [],
        records: [
          { ...record(1, true), origin: ORIGIN, proof: 0 },
          { ...record(3, true), origin: ORIGIN, proof: 1 },
        ],
        proofs: [
          { origin: ORIGIN, signature: SIGNATURE, digests: new Uint8Array(2 * RECORD_DIGEST_BYTES).fill(1) },
          { origin: ORIGIN, signature: SIGNATURE, digests: new Uint8Array(RECORD_DIGEST_BYTES).fill(2) },
        ],
        wanted: [1n, 2n ** 63n],
      }),
    ),
    Buffer.from(
      encodeSyncMessage({
        kind: SyncKind.DONE,
        realm: 'web',
        ranges: [],
        records: [],
        proofs: [],
        wanted: [],
      }),
    ),
  ],
  // SyncMessage, SyncRange, SyncItem, WireRecord and RecordProof tags, a signature's length.
  dictionary: [
    [0x08, WIRE_VERSION],
    [0x10],
    [0x1a],
    [0x22],
    [0x2a],
    [0x32],
    [0x3a],
    [0x08],
    [0x11],
    [0x19],
    [0x20],
    [0x30, 0x01],
    [0x30],
    [0x12, SIGNATURE_BYTES],
  ].map((b) => Buffer.from(b)),
}

function checkBroadcast(data: Buffer, limits: { maxFrameBytes: number; maxIds: number } | undefined): void {
  let frame: ReturnType<typeof decodeBroadcastFrame>
  try {
    frame = decodeBroadcastFrame(data, limits)
  } catch (err) {
    refusedProperly(err)
    return
  }
  if (!sameContent(decodeBroadcastFrame(encodeBroadcastFrame(frame), limits), frame)) {
    throw new DecoderPropertyError('a decoded broadcast frame changed through encode -> decode')
  }
}

export const wireBroadcastTarget: FuzzTarget = {
  name: 'wire-broadcast',
  coverage: ['/packages/wire/src/', 'protons-runtime'],
  fuzz(data) {
    checkBroadcast(data, undefined)
    checkBroadcast(data, { maxFrameBytes: 256, maxIds: 2 })
  },
  seeds: () => [
    Buffer.from(
      encodeBroadcastFrame({
        kind: BroadcastKind.GOSSIP,
        realm: 'web',
        origin: id(1),
        data: Buffer.from(encodeBatch({ realm: 'web', records: [record(1, false)], signature: SIGNATURE })),
        hops: 2,
      }),
    ),
    Buffer.from(
      encodeBroadcastFrame({ kind: BroadcastKind.IHAVE, realm: 'web', ids: [new Uint8Array(20)], hops: 1 }),
    ),
    Buffer.from(encodeBroadcastFrame({ kind: BroadcastKind.GRAFT, realm: 'web', ids: [] })),
    Buffer.from(encodeBroadcastFrame({ kind: BroadcastKind.PRUNE, realm: 'web', full: true })),
  ],
  // 0x32: field 6, the signature version 1 wrote, which a decoder must skip.
  dictionary: [[0x08, WIRE_VERSION], [0x10], [0x1a], [0x22], [0x2a], [0x32], [0x3a], [0x40], [0x48]].map(
    (b) => Buffer.from(b),
  ),
}
