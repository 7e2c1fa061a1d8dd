import type { RecordProof } from './sync-message.ts'

/**
 * Bytes of proofs one direction of a sync session numbers. An empty node catching up takes each
 * batch's records in many pages (records travel by key, a batch's records are spread over the key
 * space), and sending the batch's proof in full with each of them cost 1.8 KB a record, 7x the
 * records themselves. 1,000,000 records published in batches of 64 have 15,625 proofs of about 1.1 KB.
 */
export const SESSION_PROOF_BYTES = 32 * 1024 * 1024

/**
 * The proofs one side of a sync session has sent in full, or received, numbered in the order they
 * went: a later message names one by its number (`earlier` on the wire) instead of repeating it. The
 * sender and the receiver each keep one per direction and number alike, as both add every proof
 * sent in full, in order, while the table's bytes stay within SESSION_PROOF_BYTES; past that, proofs
 * travel in full every time. What a receiver holds is bounded by the cap whatever a peer sends.
 */
export class SyncProofTable {
  readonly #proofs: RecordProof[] = []
  readonly #numbers = new Map<RecordProof, number>()
  #bytes = 0

  /** The number a later message may name `proof` by, once it was sent in full (sender side). */
  numberOf(proof: RecordProof): number | undefined {
    return this.#numbers.get(proof)
  }

  /** The proof numbered `number` (receiver side). */
  proof(number: number): RecordProof | undefined {
    return this.#proofs[number]
  }

  /** Numbers a proof sent or received in full, while the table has room for it. */
  add(proof: RecordProof): void {
    const bytes = proofBytes(proof)
    if (this.#bytes + bytes > SESSION_PROOF_BYTES) return
    this.#bytes += bytes
    this.#numbers.set(proof, this.#proofs.length)
    this.#proofs.push(proof)
  }
}

function proofBytes(proof: RecordProof): number {
  return proof.signature.byteLength + proof.digests.byteLength + proof.origin.length
}
