import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import {
  BatchBuilder,
  DEFAULT_LIMITS,
  decodeBatch,
  manifestBytes,
  RECORD_DIGEST_BYTES,
  recordDigest,
  recordDigests,
  SIGNATURE_BYTES,
  type WireRecord,
} from '../src/index.ts'
import { bytes, NOW, ORIGIN, record } from './fixtures.ts'

const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex')

/** The canonical encoding as record-digest.ts documents it, written out independently. */
function documentedDigest(r: WireRecord): Uint8Array {
  const valueLength = Buffer.alloc(4)
  valueLength.writeUInt32BE(r.value?.byteLength ?? 0)
  const times = Buffer.alloc(16)
  times.writeBigUInt64BE(BigInt(r.created), 0)
  times.writeBigUInt64BE(BigInt(r.expires), 8)
  const value = r.value === undefined ? [Buffer.from([0])] : [Buffer.from([1]), valueLength, r.value]
  const encoding = Buffer.concat([
    Buffer.from('tlsmesh/record/2\0'),
    Buffer.from([r.id.byteLength]),
    r.id,
    ...value,
    times,
  ])
  return createHash('sha256').update(encoding).digest().subarray(0, 16)
}

describe('recordDigest', () => {
  it('is canonical: equal records give equal digests, whatever holds their bytes', () => {
    const base = record()
    const digest = recordDigest(base)
    expect(digest.byteLength).toBe(RECORD_DIGEST_BYTES)
    expect(recordDigest(structuredClone(base))).toEqual(digest)
    // A Node Buffer at an offset into a larger one, as a socket delivers.
    const pooled = Buffer.alloc(4096)
    const id = pooled.subarray(100, 132)
    id.set(base.id)
    const value = pooled.subarray(1000, 1100)
    value.set(base.value!)
    expect(recordDigest({ ...base, id, value })).toEqual(digest)
  })

  it('follows the documented canonical encoding', () => {
    for (const r of [
      record(),
      record({ value: undefined }),
      record({ value: new Uint8Array(0) }),
      record({ id: bytes(DEFAULT_LIMITS.maxIdBytes), value: bytes(DEFAULT_LIMITS.maxValueBytes) }),
      { id: bytes(1), created: 1, expires: Number.MAX_SAFE_INTEGER },
    ]) {
      expect(hex(recordDigest(r))).toBe(hex(documentedDigest(r)))
    }
  })

  it('changes with any change of a field it covers', () => {
    const base = record({ id: bytes(8, 1), value: bytes(8, 2) })
    // Every field but the origin, which the manifest binds once per batch: a new field of WireRecord
    // does not compile until it has a case here (or joins the origin in the Omit).
    const changes: Record<keyof Omit<WireRecord, 'origin'>, WireRecord[]> = {
      id: [
        { ...base, id: bytes(8, 3) },
        { ...base, id: bytes(9, 1) },
        { ...base, id: bytes(7, 1) },
        { ...base, id: Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 0]) },
      ],
      value: [
        { ...base, value: bytes(8, 3) },
        { ...base, value: bytes(9, 2) },
        { ...base, value: bytes(7, 2) },
        { ...base, value: new Uint8Array(0) },
        { ...base, value: undefined },
        // A byte moved across the id/value boundary: the same bytes in a row.
        { ...base, id: Uint8Array.from([...bytes(8, 1), 2]), value: bytes(7, 2) },
        { ...base, id: bytes(7, 1), value: Uint8Array.from([1, ...bytes(8, 2)]) },
      ],
      created: [
        { ...base, created: base.created + 1 },
        { ...base, created: base.created - 1 },
      ],
      expires: [
        { ...base, expires: base.expires + 1 },
        { ...base, expires: base.expires - 1 },
      ],
    }
    const seen = new Set([hex(recordDigest(base))])
    const all = Object.values(changes).flat()
    for (const changed of all) seen.add(hex(recordDigest(changed)))
    expect(seen.size).toBe(all.length + 1)
  })

  it('tells a tombstone from an empty value', () => {
    expect(recordDigest(record({ value: undefined }))).not.toEqual(
      recordDigest(record({ value: new Uint8Array(0) })),
    )
  })

  it('does not depend on the origin', () => {
    const digest = recordDigest(record())
    expect(recordDigest(record({ origin: ORIGIN }))).toEqual(digest)
    expect(recordDigest(record({ origin: 'x' }))).toEqual(digest)
  })

  it('returns a digest that later calls leave alone', () => {
    const small = record()
    const digest = recordDigest(small)
    const kept = hex(digest)
    // Larger than the first scratch buffer, then small again.
    recordDigest(record({ value: bytes(DEFAULT_LIMITS.maxValueBytes, 9) }))
    recordDigest(record({ id: bytes(3, 3) }))
    expect(hex(digest)).toBe(kept)
    expect(hex(recordDigest(small))).toBe(kept)
  })
})

describe('recordDigests', () => {
  it('concatenates the digests in record order', () => {
    const records = [record({ id: bytes(4, 1) }), record({ id: bytes(4, 2), value: undefined }), record()]
    const digests = recordDigests(records)
    expect(digests.byteLength).toBe(records.length * RECORD_DIGEST_BYTES)
    records.forEach((r, i) => {
      expect(digests.subarray(i * RECORD_DIGEST_BYTES, (i + 1) * RECORD_DIGEST_BYTES)).toEqual(
        recordDigest(r),
      )
    })
    expect(recordDigests([])).toEqual(new Uint8Array(0))
  })
})

describe('manifestBytes', () => {
  const digests = recordDigests([record({ id: bytes(4, 1) }), record({ id: bytes(4, 2) })])
  const swapped = new Uint8Array([...digests.subarray(16), ...digests.subarray(0, 16)])

  it('is domain | realm length | realm | origin length | origin | digests', () => {
    expect(hex(manifestBytes('web', 'peer', digests))).toBe(
      hex(Buffer.concat([Buffer.from('tlsmesh/manifest/2\0'), Buffer.from('\x03web\x04peer'), digests])),
    )
  })

  it('binds the realm, the origin and the order of the digests', () => {
    const manifests = [
      manifestBytes('web', ORIGIN, digests),
      manifestBytes('api', ORIGIN, digests),
      manifestBytes('web', `${ORIGIN.slice(0, -1)}Y`, digests),
      manifestBytes('web', ORIGIN, swapped),
      manifestBytes('web', ORIGIN, digests.subarray(0, 16)),
      manifestBytes('web', ORIGIN, new Uint8Array(0)),
      // The realm/origin boundary moved.
      manifestBytes('webp', 'eer', digests),
      manifestBytes('web', 'peer', digests),
    ]
    expect(new Set(manifests.map(hex)).size).toBe(manifests.length)
  })
})

describe('an Ed25519 signature over the manifest', () => {
  const realm = 'web'
  const records = [
    record({ id: bytes(32, 1) }),
    record({ id: bytes(32, 2), value: undefined }),
    record({ id: bytes(32, 3), value: new Uint8Array(0) }),
  ]

  async function signer(): Promise<{ key: PrivateKey; origin: string }> {
    const key = await generateKeyPair('Ed25519')
    return { key, origin: peerIdFromPrivateKey(key).toString() }
  }

  async function signatureOver(key: PrivateKey, origin: string, signed: WireRecord[]): Promise<Uint8Array> {
    return key.sign(manifestBytes(realm, origin, recordDigests(signed)))
  }

  it('verifies, and fails after any change to what it covers', async () => {
    const { key, origin } = await signer()
    const other = await signer()
    const signature = await signatureOver(key, origin, records)
    expect(signature.byteLength).toBe(SIGNATURE_BYTES)
    const verifies = (claim: {
      realm?: string
      origin?: string
      records?: WireRecord[]
      signature?: Uint8Array
    }) =>
      key.publicKey.verify(
        manifestBytes(claim.realm ?? realm, claim.origin ?? origin, recordDigests(claim.records ?? records)),
        claim.signature ?? signature,
      )
    expect(await verifies({})).toBe(true)
    // A record relayed with an origin of its own is still the same record.
    expect(await verifies({ records: records.map((r) => ({ ...r, origin: other.origin })) })).toBe(true)

    const flipped = new Uint8Array(signature)
    flipped[10]! ^= 1
    const changed = (i: number, fields: Partial<WireRecord>) =>
      records.map((r, j) => (j === i ? { ...r, ...fields } : r))
    const forgeries: Record<string, Parameters<typeof verifies>[0]> = {
      'another realm': { realm: 'api' },
      'another origin': { origin: other.origin },
      'an id': { records: changed(0, { id: bytes(32, 9) }) },
      'a value': { records: changed(0, { value: bytes(100, 9) }) },
      'a record tombstoned': { records: changed(0, { value: undefined }) },
      'a tombstone given a value': { records: changed(1, { value: new Uint8Array(0) }) },
      'an empty value tombstoned': { records: changed(2, { value: undefined }) },
      created: { records: changed(0, { created: NOW + 1 }) },
      expires: { records: changed(0, { expires: NOW + 300_001 }) },
      'the records reordered': { records: [records[1]!, records[0]!, records[2]!] },
      'a record dropped': { records: records.slice(0, 2) },
      'a record added': { records: [...records, record({ id: bytes(32, 4) })] },
      'a bit of the signature': { signature: flipped },
      "another key's signature": { signature: await signatureOver(other.key, origin, records) },
    }
    for (const [name, claim] of Object.entries(forgeries)) {
      expect({ name, verifies: await verifies(claim) }).toEqual({ name, verifies: false })
    }
  })

  it('still verifies over the records a batch decodes to', async () => {
    const { key, origin } = await signer()
    const builder = new BatchBuilder(realm)
    for (const r of records) builder.add(r)
    const encoded = builder.build(await signatureOver(key, origin, [...builder.records]))
    const decoded = decodeBatch(encoded)
    const manifest = manifestBytes(decoded.realm, origin, recordDigests(decoded.records))
    expect(await key.publicKey.verify(manifest, decoded.signature)).toBe(true)
  })
})
