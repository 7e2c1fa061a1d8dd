import { describe, expect, it } from 'vitest'
import {
  decodeSyncMessage,
  encodeSyncMessage,
  InvalidRecordError,
  RECORD_DIGEST_BYTES,
  type RecordProof,
  SESSION_PROOF_BYTES,
  SIGNATURE_BYTES,
  SyncKind,
  type SyncMessage,
  SyncProofTable,
} from '../src/index.ts'
import { bytes, ORIGIN, rawRecord, rawSync, record, refusal, SIGNATURE } from './fixtures.ts'

/** A batch's proof of `records` digests; `seed` makes it distinct. */
const proof = (seed: number, records = 64): RecordProof => ({
  origin: ORIGIN,
  signature: bytes(SIGNATURE_BYTES, seed),
  digests: bytes(records * RECORD_DIGEST_BYTES, seed),
})

/** A RECORDS page of one record per proof. */
const page = (proofs: RecordProof[]): SyncMessage => ({
  kind: SyncKind.RECORDS,
  realm: 'web',
  ranges: [],
  records: proofs.map((_, i) => ({ ...record({ id: bytes(4, i) }), origin: ORIGIN, proof: i })),
  proofs,
  wanted: [],
})

/** Both ends of one direction of a session. */
function session() {
  const sent = new SyncProofTable()
  const received = new SyncProofTable()
  return {
    send: (message: SyncMessage) => encodeSyncMessage(message, sent),
    receive: (encoded: Uint8Array) => decodeSyncMessage(encoded, undefined, received),
  }
}

describe('proofs numbered within a sync session', () => {
  it('sends a proof in full once; later pages name it by number, and it decodes to the same proof', () => {
    const { send, receive } = session()
    const [a, b, c] = [proof(1), proof(2), proof(3)]
    const first = send(page([a!, b!]))
    expect(receive(first)).toEqual(page([a!, b!]))
    const second = send(page([b!, c!, a!]))
    // b and a travel as numbers: the second page carries one proof's bytes, not three.
    expect(second.byteLength).toBeLessThan(first.byteLength)
    expect(receive(second)).toEqual(page([b!, c!, a!]))
    expect(receive(send(page([c!]))).proofs).toEqual([c])
  })

  it('without a session table, every proof goes in full and a number is refused (protocol 2 peers)', () => {
    const a = proof(1)
    for (let i = 0; i < 2; i++) expect(decodeSyncMessage(encodeSyncMessage(page([a]))).proofs).toEqual([a])
    const referring = rawSync({
      records: [rawRecord({ proof: 0 })],
      proofs: [{ origin: '', signature: new Uint8Array(0), digests: new Uint8Array(0), earlier: 0 }],
    })
    expect(refusal(() => decodeSyncMessage(referring))).toBeInstanceOf(InvalidRecordError)
  })

  it('refuses a number never sent, and a numbered proof that carries one too: nothing added to the table', () => {
    const received = new SyncProofTable()
    decodeSyncMessage(rawSync(), undefined, received)
    expect(received.proof(0)).toBeDefined()
    const hostile = [
      { origin: '', signature: new Uint8Array(0), digests: new Uint8Array(0), earlier: 1 },
      { origin: '', signature: new Uint8Array(0), digests: new Uint8Array(0), earlier: 2 ** 32 - 1 },
      { origin: ORIGIN, signature: SIGNATURE, digests: bytes(16, 1), earlier: 0 },
    ]
    for (const forged of hostile) {
      const error = refusal(() => decodeSyncMessage(rawSync({ proofs: [forged] }), undefined, received))
      expect(error).toBeInstanceOf(InvalidRecordError)
    }
    expect(received.proof(1)).toBeUndefined()
  })

  it('numbers proofs only up to the session cap, on both sides alike; past it they go in full', () => {
    const { send, receive } = session()
    // Proofs of 4,096 digests (65 KB each): the cap holds 511 of them.
    const big = Array.from({ length: 520 }, (_, i) => proof(i, 4096))
    const perProof = SIGNATURE_BYTES + 4096 * RECORD_DIGEST_BYTES + ORIGIN.length
    const fit = Math.floor(SESSION_PROOF_BYTES / perProof)
    for (let at = 0; at < big.length; at += 40) receive(send(page(big.slice(at, at + 40))))
    const again = send(page([big[0]!, big[fit]!]))
    // The first is named by number, the one past the cap is sent in full again.
    expect(again.byteLength).toBeGreaterThan(perProof)
    expect(again.byteLength).toBeLessThan(2 * perProof)
    expect(receive(again).proofs).toEqual([big[0], big[fit]])
    // A hostile sender cannot make the receiver hold more: a number past the cap was never given.
    const receivedOnly = new SyncProofTable()
    for (let at = 0; at < big.length; at += 40) {
      decodeSyncMessage(encodeSyncMessage(page(big.slice(at, at + 40))), undefined, receivedOnly)
    }
    expect(receivedOnly.proof(fit - 1)).toBeDefined()
    expect(receivedOnly.proof(fit)).toBeUndefined()
  })
})
