import { MaxLengthError } from 'protons-runtime'
import { SIGNATURE_BYTES, WIRE_VERSION, type WireLimits } from './constants.ts'
import {
  InvalidRealmError,
  InvalidRecordError,
  MalformedMessageError,
  TooManyRecordsError,
  UnsupportedVersionError,
} from './errors.ts'
import { SyncKind, SyncMessage as SyncMessageCodec } from './messages.generated.ts'
import { checkedRecord, checkSizeAndVersion, detach, toMessage, type WireRecord } from './record-batch.ts'
import { RECORD_DIGEST_BYTES } from './record-digest.ts'
import type { SyncProofTable } from './sync-proof-table.ts'
import { encodeRanges } from './sync-ranges.ts'
import { originProblem, realmProblem, resolveLimits } from './validation.ts'

export { SyncKind }

/** One side's view of a key range: every key whose top `depth * 4` bits equal `prefix`. */
export interface SyncRange {
  depth: number
  prefix: bigint
  fingerprint: bigint
  count: number
  /** (key, fingerprint) pairs, present when the sender listed the range. */
  items?: Array<{ key: bigint; fingerprint: bigint }>
}

/**
 * What authenticates a record apart from its batch: the origin's signature over the batch's
 * manifest, and the manifest's digests (`RECORD_DIGEST_BYTES` each), one of them the record's.
 */
export interface RecordProof {
  origin: string
  signature: Uint8Array
  digests: Uint8Array
}

/** A record relayed by sync: its origin is its proof's. */
export interface ProvenWireRecord extends WireRecord {
  origin: string
  /** Index into the message's `proofs`. */
  proof: number
}

export interface SyncMessage {
  kind: SyncKind
  realm: string
  ranges: SyncRange[]
  /** Full records, each naming its proof (RECORDS). */
  records: ProvenWireRecord[]
  /** What authenticates `records` (RECORDS). */
  proofs: RecordProof[]
  /** Keys whose records the sender wants (RECORDS). */
  wanted: bigint[]
}

export interface SyncLimits extends WireLimits {
  maxProofs: number
  /** Digests in one proof: the records of the largest batch a peer may publish. */
  maxProofDigests: number
  maxRanges: number
  maxItemsPerRange: number
  maxWanted: number
}

/** A sync message may carry a full page of records, so its cap is larger than a gossip message's. */
export const DEFAULT_SYNC_LIMITS: Readonly<SyncLimits> = Object.freeze({
  ...resolveLimits(),
  maxMessageBytes: 4 * 1024 * 1024,
  maxRecords: 4096,
  maxProofs: 4096,
  maxProofDigests: 4096,
  maxRanges: 4096,
  maxItemsPerRange: 64,
  maxWanted: 16384,
})

/** A key range is at most 16 levels of 4 bits deep: the key is 64 bits. */
export const MAX_SYNC_DEPTH = 16

export function resolveSyncLimits(limits?: Partial<SyncLimits>): Readonly<SyncLimits> {
  return { ...DEFAULT_SYNC_LIMITS, ...limits }
}

export function encodeSyncMessage(message: SyncMessage, sent?: SyncProofTable): Uint8Array {
  // Ranges go last, written by hand (sync-ranges.ts): a QUERY or an ANSWER holds ranges alone, so
  // these are protons' own bytes; a message with records too has its ranges after them, as protobuf
  // allows.
  const rest = SyncMessageCodec.encode({
    version: WIRE_VERSION,
    kind: message.kind,
    realm: message.realm,
    ranges: [],
    // The origin travels once, in the proof.
    records: message.records.map((record) =>
      toMessage(
        // Field by field: a stored record's id and value are accessors, which spreading would drop.
        {
          id: record.id,
          value: record.value,
          created: record.created,
          expires: record.expires,
          origin: undefined,
        },
        record.proof,
      ),
    ),
    wanted: message.wanted,
    proofs: message.proofs.map((proof) => {
      const earlier = sent?.numberOf(proof)
      if (earlier !== undefined) return { origin: '', signature: EMPTY, digests: EMPTY, earlier }
      sent?.add(proof)
      return {
        origin: proof.origin,
        signature: proof.signature as Uint8Array<ArrayBuffer>,
        digests: proof.digests as Uint8Array<ArrayBuffer>,
      }
    }),
  })
  return message.ranges.length === 0 ? rest : Buffer.concat([rest, encodeRanges(message.ranges)])
}

const EMPTY = new Uint8Array(0)

/**
 * Decodes and validates a sync message; every refusal is a WireDecodeError. Within a session whose
 * peer may name proofs it sent before, `received` is that session's table of them.
 */
export function decodeSyncMessage(
  bytes: Uint8Array,
  limits?: Partial<SyncLimits>,
  received?: SyncProofTable,
): SyncMessage {
  const resolved = resolveSyncLimits(limits)
  checkSizeAndVersion(bytes, resolved.maxMessageBytes)
  let message: SyncMessageCodec
  try {
    message = SyncMessageCodec.decode(bytes, {
      limits: {
        ranges: resolved.maxRanges,
        records: resolved.maxRecords,
        proofs: resolved.maxProofs,
        wanted: resolved.maxWanted,
        ranges$: { items: resolved.maxItemsPerRange },
      },
    })
  } catch (err) {
    if (err instanceof MaxLengthError) throw new TooManyRecordsError('a repeated field is over its limit')
    throw new MalformedMessageError('not a protobuf sync message', { cause: err })
  }
  if (message.version !== WIRE_VERSION) {
    throw new UnsupportedVersionError(`version ${message.version}, supported ${WIRE_VERSION}`)
  }
  if (message.kind === SyncKind.SYNC_KIND_UNSPECIFIED || !Object.values(SyncKind).includes(message.kind)) {
    throw new MalformedMessageError('unknown sync message kind')
  }
  const realm = realmProblem(message.realm, resolved)
  if (realm !== undefined) throw new InvalidRealmError(realm)
  const ranges: SyncRange[] = []
  for (const range of message.ranges) {
    // protons reads 64-bit fields as signed; keys and fingerprints are unsigned.
    const prefix = BigInt.asUintN(64, range.prefix)
    if (range.depth > MAX_SYNC_DEPTH || prefix >= 1n << BigInt(range.depth * 4)) {
      throw new MalformedMessageError('a range prefix does not fit its depth')
    }
    const decoded: SyncRange = {
      depth: range.depth,
      prefix,
      fingerprint: BigInt.asUintN(64, range.fingerprint),
      count: range.count,
    }
    if (range.listed) {
      decoded.items = range.items.map((item) => ({
        key: BigInt.asUintN(64, item.key),
        fingerprint: BigInt.asUintN(64, item.fingerprint),
      }))
    }
    ranges.push(decoded)
  }
  const proofs = message.proofs.map((proof, index) => decodeProof(proof, index, resolved, received))
  const records = message.records.map((record, index): ProvenWireRecord => {
    // Relayed records must say whose they are, and prove it: an origin of their own is ignored.
    const proof = record.proof === undefined ? undefined : proofs[record.proof]
    if (proof === undefined) throw new InvalidRecordError(`record ${index}: no proof`)
    record.origin = undefined
    const decoded = checkedRecord(record, index, resolved) as ProvenWireRecord
    decoded.origin = proof.origin
    decoded.proof = record.proof!
    return decoded
  })
  // One copy of the page's bytes: protons hands out views into the message.
  detach(records)
  const wanted = message.wanted.map((key) => BigInt.asUintN(64, key))
  return { kind: message.kind, realm: message.realm, ranges, records, proofs, wanted }
}

function decodeProof(
  proof: SyncMessageCodec['proofs'][number],
  index: number,
  limits: Readonly<SyncLimits>,
  received: SyncProofTable | undefined,
): RecordProof {
  const { origin, signature, digests, earlier } = proof
  if (earlier !== undefined) {
    if (origin !== '' || signature.byteLength > 0 || digests.byteLength > 0) {
      throw new InvalidRecordError(`proof ${index}: names an earlier proof and carries one too`)
    }
    const named = received?.proof(earlier)
    if (named === undefined)
      throw new InvalidRecordError(`proof ${index}: names proof ${earlier}, never sent`)
    return named
  }
  const problem = originProblem(origin, limits)
  if (problem !== undefined) throw new InvalidRecordError(`proof ${index}: ${problem}`)
  if (signature.byteLength !== SIGNATURE_BYTES) {
    throw new InvalidRecordError(`proof ${index}: the signature is not ${SIGNATURE_BYTES} bytes`)
  }
  const count = digests.byteLength / RECORD_DIGEST_BYTES
  if (!Number.isInteger(count) || count < 1 || count > limits.maxProofDigests) {
    throw new InvalidRecordError(`proof ${index}: digests are not 1-${limits.maxProofDigests} whole digests`)
  }
  const decoded = { origin, signature: new Uint8Array(signature), digests: new Uint8Array(digests) }
  received?.add(decoded)
  return decoded
}
