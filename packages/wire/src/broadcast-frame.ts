import { MaxLengthError } from 'protons-runtime'
import { WIRE_VERSION } from './constants.ts'
import {
  InvalidRealmError,
  InvalidRecordError,
  MalformedMessageError,
  TooManyRecordsError,
  UnsupportedVersionError,
} from './errors.ts'
import { BroadcastFrame as BroadcastFrameCodec, BroadcastKind } from './messages.generated.ts'
import { checkSizeAndVersion } from './record-batch.ts'
import { realmProblem, resolveLimits } from './validation.ts'

export { BroadcastKind }

/** One frame of the tree-broadcast protocol between two neighbours. */
export type BroadcastFrame =
  | {
      kind: BroadcastKind.GOSSIP
      realm: string
      origin: Uint8Array
      /** An encoded RecordBatch, which carries its origin's signature. */
      data: Uint8Array
      hops: number
    }
  /**
   * `hops`: what the sender's copies of these batches carry (0: it is their origin), so that a node
   * GRAFTs the announcer nearest the origin and the tree stays shallow.
   */
  | { kind: BroadcastKind.IHAVE; realm: string; ids: Uint8Array[]; hops: number }
  | { kind: BroadcastKind.GRAFT; realm: string; ids: Uint8Array[] }
  /** `full`: the sender is at its cap of eager links; the receiver should not GRAFT it again soon. */
  | { kind: BroadcastKind.PRUNE; realm: string; full: boolean }

export interface BroadcastLimits {
  /** The whole frame: a GOSSIP frame carries one record batch plus its origin. */
  maxFrameBytes: number
  maxIds: number
}

export const DEFAULT_BROADCAST_LIMITS: Readonly<BroadcastLimits> = Object.freeze({
  maxFrameBytes: 1024 * 1024 + 1024,
  maxIds: 4096,
})

/** Message ids are 20 bytes (a truncated sha256): ample against accidental collisions. */
export const BROADCAST_ID_BYTES = 20
const MAX_ORIGIN_BYTES = 64

export function encodeBroadcastFrame(frame: BroadcastFrame): Uint8Array {
  const empty = new Uint8Array(0)
  return BroadcastFrameCodec.encode({
    version: WIRE_VERSION,
    kind: frame.kind,
    realm: frame.realm,
    origin: (frame.kind === BroadcastKind.GOSSIP ? frame.origin : empty) as Uint8Array<ArrayBuffer>,
    data: (frame.kind === BroadcastKind.GOSSIP ? frame.data : empty) as Uint8Array<ArrayBuffer>,
    ids: (frame.kind === BroadcastKind.IHAVE || frame.kind === BroadcastKind.GRAFT ? frame.ids : []) as Array<
      Uint8Array<ArrayBuffer>
    >,
    hops: frame.kind === BroadcastKind.GOSSIP || frame.kind === BroadcastKind.IHAVE ? frame.hops : 0,
    full: frame.kind === BroadcastKind.PRUNE && frame.full,
  })
}

/** Decodes a frame from a neighbour, checking every field's shape; refusals are WireDecodeErrors. */
export function decodeBroadcastFrame(bytes: Uint8Array, limits?: Partial<BroadcastLimits>): BroadcastFrame {
  const resolved = { ...DEFAULT_BROADCAST_LIMITS, ...limits }
  checkSizeAndVersion(bytes, resolved.maxFrameBytes)
  let frame: BroadcastFrameCodec
  try {
    frame = BroadcastFrameCodec.decode(bytes, { limits: { ids: resolved.maxIds } })
  } catch (err) {
    if (err instanceof MaxLengthError) throw new TooManyRecordsError(`more than ${resolved.maxIds} ids`)
    throw new MalformedMessageError('not a protobuf broadcast frame', { cause: err })
  }
  if (frame.version !== WIRE_VERSION) {
    throw new UnsupportedVersionError(`version ${frame.version}, supported ${WIRE_VERSION}`)
  }
  const realm = realmProblem(frame.realm, resolveLimits())
  if (realm !== undefined) throw new InvalidRealmError(realm)
  switch (frame.kind) {
    case BroadcastKind.GOSSIP: {
      if (frame.origin.byteLength === 0 || frame.origin.byteLength > MAX_ORIGIN_BYTES) {
        throw new InvalidRecordError('origin: 1 to 64 bytes')
      }
      if (frame.data.byteLength === 0) throw new InvalidRecordError('no payload')
      return {
        kind: frame.kind,
        realm: frame.realm,
        origin: frame.origin,
        data: frame.data,
        hops: frame.hops,
      }
    }
    case BroadcastKind.IHAVE:
    case BroadcastKind.GRAFT:
      for (const id of frame.ids) {
        if (id.byteLength !== BROADCAST_ID_BYTES)
          throw new InvalidRecordError(`ids are ${BROADCAST_ID_BYTES} bytes`)
      }
      return frame.kind === BroadcastKind.IHAVE
        ? { kind: frame.kind, realm: frame.realm, ids: frame.ids, hops: frame.hops }
        : { kind: frame.kind, realm: frame.realm, ids: frame.ids }
    case BroadcastKind.PRUNE:
      return { kind: frame.kind, realm: frame.realm, full: frame.full }
    default:
      throw new MalformedMessageError('unknown broadcast frame kind')
  }
}
