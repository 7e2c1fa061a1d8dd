import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { SessionRecord } from '@tlsmesh/store'
import { encodeBatch, type WireLimits, type WireRecord } from '@tlsmesh/wire'
import { RecordAuthenticator } from '../src/record-auth.ts'

/** A node's identity as records see it: a real Ed25519 key, its peer id, and what signs with it. */
export interface Signer {
  readonly privateKey: PrivateKey
  readonly peerId: PeerId
  /** The peer id's string form: what records carry as their origin. */
  readonly origin: string
  readonly auth: RecordAuthenticator
}

export async function createSigner(): Promise<Signer> {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const origin = peerId.toString()
  return { privateKey, peerId, origin, auth: new RecordAuthenticator(privateKey, origin) }
}

/**
 * What a holder of `key` can sign while claiming to be `origin`: a signature that the real origin's
 * peer id does not verify.
 */
export function forger(key: Signer, origin: string): RecordAuthenticator {
  return new RecordAuthenticator(key.privateKey, origin)
}

/** An encoded gossip batch of `records` as `signer` publishes it, signed over exactly these records. */
export function signedBatch(
  signer: Pick<Signer, 'auth'>,
  realm: string,
  records: WireRecord[],
  limits?: Partial<WireLimits>,
): Uint8Array {
  return encodeBatch({ realm, records, signature: signer.auth.sign(realm, records).signature }, limits)
}

/** The publisher's batch size in tests: several batches, so several proofs, in one sync page. */
const BATCH_RECORDS = 64

/**
 * `records` as their origin publishes them: one realm, `signer` as the origin, each batch of up to
 * `batchRecords` signed as one, each record carrying its batch's proof (what a replica stores).
 */
export function signRecords(
  signer: Pick<Signer, 'auth'>,
  records: SessionRecord[],
  batchRecords = BATCH_RECORDS,
): SessionRecord[] {
  const signed: SessionRecord[] = []
  for (let at = 0; at < records.length; at += batchRecords) {
    const batch = records.slice(at, at + batchRecords).map((r) => ({ ...r, origin: signer.auth.origin }))
    const { proof } = signer.auth.sign(batch[0]!.realm, batch)
    for (const record of batch) signed.push({ ...record, proof })
  }
  return signed
}

/**
 * A session made a second before `now`, for five minutes, with a random 32-byte id and 200-byte value
 * (plain Uint8Arrays, as the replica hands out: a Buffer does not compare equal to one).
 */
export function sessionRecord(
  now: number,
  fields: Pick<SessionRecord, 'realm' | 'origin'> & Partial<SessionRecord>,
): SessionRecord {
  return {
    id: new Uint8Array(randomBytes(32)),
    value: new Uint8Array(randomBytes(200)),
    created: now - 1000,
    expires: now + 300_000,
    ...fields,
  }
}

/** `n` sessions of `signer` in `realm`, as its batches published them, each with its proof. */
export function publishedRecords(
  signer: Signer,
  now: number,
  n: number,
  fields: Pick<SessionRecord, 'realm'> & Partial<SessionRecord>,
): SessionRecord[] {
  const records = Array.from({ length: n }, () => sessionRecord(now, { origin: signer.origin, ...fields }))
  return signRecords(signer, records)
}
