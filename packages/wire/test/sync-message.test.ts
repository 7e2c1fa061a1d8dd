import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SYNC_LIMITS,
  decodeSyncMessage,
  encodeSyncMessage,
  InvalidRecordError,
  manifestBytes,
  RECORD_DIGEST_BYTES,
  recordDigest,
  recordDigests,
  SIGNATURE_BYTES,
  SyncKind,
  type SyncLimits,
  type SyncMessage,
  TooManyRecordsError,
  WIRE_DECODE_ERROR_CODES,
  type WireDecodeError,
  type WireDecodeErrorCode,
} from '../src/index.ts'
import type { RecordProof as RawProof } from '../src/messages.generated.ts'
import { bytes, ORIGIN, rawRecord, rawSync, record, refusal, SIGNATURE } from './fixtures.ts'

const decodeError = (input: Uint8Array, limits?: Partial<SyncLimits>): WireDecodeError =>
  refusal(() => decodeSyncMessage(input, limits))

const OTHER_ORIGIN = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'
const rawProof = (fields: Partial<RawProof> = {}): RawProof => ({
  origin: ORIGIN,
  signature: SIGNATURE,
  digests: bytes(3 * RECORD_DIGEST_BYTES, 7),
  ...fields,
})

describe('sync messages', () => {
  it('round-trip records with the proofs they name', () => {
    const message: SyncMessage = {
      kind: SyncKind.RECORDS,
      realm: 'web',
      ranges: [],
      records: [
        { ...record({ id: bytes(4, 1) }), origin: ORIGIN, proof: 0 },
        { ...record({ id: bytes(4, 2), value: undefined }), origin: OTHER_ORIGIN, proof: 1 },
        { ...record({ id: bytes(4, 3), value: new Uint8Array(0) }), origin: ORIGIN, proof: 0 },
      ],
      proofs: [
        { origin: ORIGIN, signature: SIGNATURE, digests: bytes(2 * RECORD_DIGEST_BYTES, 1) },
        {
          origin: OTHER_ORIGIN,
          signature: bytes(SIGNATURE_BYTES, 2),
          digests: bytes(RECORD_DIGEST_BYTES, 3),
        },
      ],
      wanted: [1n, 2n ** 64n - 1n],
    }
    const decoded = decodeSyncMessage(encodeSyncMessage(message))
    expect(decoded).toEqual(message)
    expect('value' in decoded.records[1]!).toBe(false)
  })

  it('round-trip messages without records', () => {
    const message: SyncMessage = {
      kind: SyncKind.ANSWER,
      realm: 'web',
      ranges: [
        { depth: 1, prefix: 7n, fingerprint: 1n, count: 2, items: [{ key: 0x7fffn, fingerprint: 9n }] },
      ],
      records: [],
      proofs: [],
      wanted: [],
    }
    expect(decodeSyncMessage(encodeSyncMessage(message))).toEqual(message)
  })

  it("gives a record its proof's origin, whatever origin the record carries", () => {
    const decoded = decodeSyncMessage(rawSync({ records: [rawRecord({ proof: 0, origin: OTHER_ORIGIN })] }))
    expect(decoded.records[0]!.origin).toBe(ORIGIN)
  })

  it('returns copies of the proofs, so that a replica keeping them does not pin the message', () => {
    const encoded = rawSync()
    const { proofs } = decodeSyncMessage(encoded)
    expect(proofs[0]!.signature.buffer).not.toBe(encoded.buffer)
    expect(proofs[0]!.digests.buffer).not.toBe(encoded.buffer)
    encoded.fill(0)
    expect(proofs[0]).toEqual(rawProof())
  })

  it('carries what a receiver needs to check each record against its origin', async () => {
    const key = await generateKeyPair('Ed25519')
    const origin = peerIdFromPrivateKey(key).toString()
    const published = [record({ id: bytes(8, 1) }), record({ id: bytes(8, 2), value: undefined })]
    const digests = recordDigests(published)
    const signature = await key.sign(manifestBytes('web', origin, digests))
    // Only the second record travels: the proof still covers it.
    const decoded = decodeSyncMessage(
      encodeSyncMessage({
        kind: SyncKind.RECORDS,
        realm: 'web',
        ranges: [],
        records: [{ ...published[1]!, origin, proof: 0 }],
        proofs: [{ origin, signature, digests }],
        wanted: [],
      }),
    )
    const [relayed] = decoded.records
    const proof = decoded.proofs[relayed!.proof]!
    expect(
      await key.publicKey.verify(manifestBytes(decoded.realm, proof.origin, proof.digests), proof.signature),
    ).toBe(true)
    const own = Buffer.from(recordDigest(relayed!)).toString('hex')
    const covered = Array.from({ length: proof.digests.byteLength / RECORD_DIGEST_BYTES }, (_, i) =>
      Buffer.from(proof.digests.subarray(i * RECORD_DIGEST_BYTES, (i + 1) * RECORD_DIGEST_BYTES)).toString(
        'hex',
      ),
    )
    expect(covered).toContain(own)
  })

  it('refuses a version 1 message as unsupported', () => {
    expect(decodeError(rawSync({ version: 1 })).code).toBe('unsupported-version')
  })
})

describe('hostile sync messages', () => {
  const proofs = (count: number) => Array.from({ length: count }, () => rawProof())
  const cases: Record<string, { input: Uint8Array; code: WireDecodeErrorCode }> = {
    'a record naming a proof past the end': {
      input: rawSync({ records: [rawRecord({ proof: 1 })] }),
      code: 'invalid-record',
    },
    'a record naming proof 2^32 - 1': {
      input: rawSync({ records: [rawRecord({ proof: 2 ** 32 - 1 })] }),
      code: 'invalid-record',
    },
    'a record naming no proof': { input: rawSync({ records: [rawRecord()] }), code: 'invalid-record' },
    'a record and no proofs': { input: rawSync({ proofs: [] }), code: 'invalid-record' },
    'a proof with no digests': {
      input: rawSync({ proofs: [rawProof({ digests: new Uint8Array(0) })] }),
      code: 'invalid-record',
    },
    'a 17-byte digest': {
      input: rawSync({ proofs: [rawProof({ digests: bytes(17) })] }),
      code: 'invalid-record',
    },
    'digests that are not a whole number': {
      input: rawSync({ proofs: [rawProof({ digests: bytes(3 * RECORD_DIGEST_BYTES - 1) })] }),
      code: 'invalid-record',
    },
    'more digests than maxProofDigests': {
      input: rawSync({
        proofs: [
          rawProof({ digests: bytes((DEFAULT_SYNC_LIMITS.maxProofDigests + 1) * RECORD_DIGEST_BYTES) }),
        ],
      }),
      code: 'invalid-record',
    },
    'more proofs than maxProofs': {
      input: rawSync({ proofs: proofs(DEFAULT_SYNC_LIMITS.maxProofs + 1) }),
      code: 'too-many-records',
    },
    'an empty origin': { input: rawSync({ proofs: [rawProof({ origin: '' })] }), code: 'invalid-record' },
    'an origin with a newline': {
      input: rawSync({ proofs: [rawProof({ origin: 'peer\nfake log line' })] }),
      code: 'invalid-record',
    },
    'an origin that is not ASCII': {
      input: rawSync({ proofs: [rawProof({ origin: 'pée' })] }),
      code: 'invalid-record',
    },
    'an origin over maxOriginBytes': {
      input: rawSync({ proofs: [rawProof({ origin: 'o'.repeat(DEFAULT_SYNC_LIMITS.maxOriginBytes + 1) })] }),
      code: 'invalid-record',
    },
    'a 63-byte signature': {
      input: rawSync({ proofs: [rawProof({ signature: bytes(SIGNATURE_BYTES - 1) })] }),
      code: 'invalid-record',
    },
    'a 65-byte signature': {
      input: rawSync({ proofs: [rawProof({ signature: bytes(SIGNATURE_BYTES + 1) })] }),
      code: 'invalid-record',
    },
    'no signature': {
      input: rawSync({ proofs: [rawProof({ signature: new Uint8Array(0) })] }),
      code: 'invalid-record',
    },
    // A bad proof that no record names is refused all the same.
    'an unused bad proof': {
      input: rawSync({ proofs: [rawProof(), rawProof({ signature: bytes(SIGNATURE_BYTES - 1) })] }),
      code: 'invalid-record',
    },
  }

  for (const [name, { input, code }] of Object.entries(cases)) {
    it(`refuses ${name}`, () => {
      const err = decodeError(input)
      expect(err.code).toBe(code)
      expect(WIRE_DECODE_ERROR_CODES).toContain(err.code)
      expect(err.message).not.toContain('fake log line')
    })
  }

  it('names the proof or record at fault', () => {
    expect(decodeError(cases['a record naming a proof past the end']!.input)).toBeInstanceOf(
      InvalidRecordError,
    )
    expect(decodeError(cases['a record naming a proof past the end']!.input).message).toMatch(/^record 0: /)
    expect(decodeError(cases['an unused bad proof']!.input).message).toMatch(/^proof 1: /)
    expect(decodeError(cases['more proofs than maxProofs']!.input)).toBeInstanceOf(TooManyRecordsError)
  })

  it('applies the proof limits given', () => {
    const twoProofs = rawSync({ proofs: proofs(2) })
    expect(decodeSyncMessage(twoProofs, { maxProofs: 2 }).proofs).toHaveLength(2)
    expect(decodeError(twoProofs, { maxProofs: 1 }).code).toBe('too-many-records')
    const threeDigests = rawSync()
    expect(decodeSyncMessage(threeDigests, { maxProofDigests: 3 }).proofs[0]!.digests.byteLength).toBe(
      3 * RECORD_DIGEST_BYTES,
    )
    expect(decodeError(threeDigests, { maxProofDigests: 2 }).code).toBe('invalid-record')
  })

  it('decodes the message the cases above start from', () => {
    expect(decodeSyncMessage(rawSync()).records).toEqual([{ ...record(), origin: ORIGIN, proof: 0 }])
  })
})
