import type { GossipPayload } from '@tlsmesh/mesh'
import type { RecordProof, SessionRecord } from '@tlsmesh/store'

export const REALM = 'sim'

/**
 * A payload's size: about a signed batch of one session record (a ~230-byte session, its id, the
 * origin's 64-byte signature and the batch's digest). Its first 4 bytes number the record, the next
 * 8 hold its creation time.
 */
export const PAYLOAD_BYTES = 320

/** Sessions live an hour in the replica (the run is minutes long: nothing expires). */
const RECORD_TTL_MS = 60 * 60 * 1000

export function recordPayload(no: number, origin: string, created: number): GossipPayload {
  const data = new Uint8Array(PAYLOAD_BYTES)
  const view = new DataView(data.buffer)
  view.setUint32(0, no)
  view.setFloat64(4, Math.floor(created))
  return { realm: REALM, origin: new TextEncoder().encode(origin), data, hops: 0 }
}

export function recordNoOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0)
}

/**
 * Each origin's stand-in for the proof its batches carry: catch-up sends only records with a proof
 * (signatures are not simulated, so nobody checks it).
 */
const proofs = new Map<string, RecordProof>()
function proofOf(origin: string): RecordProof {
  let proof = proofs.get(origin)
  if (proof === undefined) {
    proof = { origin, signature: new Uint8Array(64), digests: new Uint8Array(0) }
    proofs.set(origin, proof)
  }
  return proof
}

/** The session a payload carries, as a receiver merges it into its replica. */
export function sessionOf(payload: GossipPayload, origin: string): SessionRecord {
  const { data } = payload
  const created = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(4)
  return {
    realm: REALM,
    id: payload.data.subarray(0, 4),
    value: payload.data.subarray(4),
    created,
    expires: created + RECORD_TTL_MS,
    origin,
    proof: proofOf(origin),
  }
}

/** The id under which a record is stored, to look it up in a replica. */
export function recordId(no: number): Uint8Array {
  const id = new Uint8Array(4)
  new DataView(id.buffer).setUint32(0, no)
  return id
}
