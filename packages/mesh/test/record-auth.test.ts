import { randomBytes } from 'node:crypto'
import { manifestBytes, recordDigest } from '@tlsmesh/wire'
import { beforeAll, describe, expect, it } from 'vitest'
import { createSigner, type Signer, sessionRecord, signRecords } from './signed-records.ts'

describe('RecordAuthenticator.covers', () => {
  let origin: Signer
  let checker: Signer
  const now = 1_700_000_000_000
  beforeAll(async () => {
    origin = await createSigner()
    checker = await createSigner()
  })

  function signed(n: number, batchRecords: number) {
    const records = Array.from({ length: n }, () => sessionRecord(now, { realm: 'a', origin: origin.origin }))
    return signRecords(origin, records, batchRecords)
  }

  function covered(records: ReturnType<typeof signed>, record: (typeof records)[number]) {
    const checked = checker.auth.checkProof('a', record.proof!)
    expect(checked).toBeDefined()
    return checker.auth.covers(checked!, record)
  }

  // A batch's usual size is searched; one of more than 128 records (a key holder's, say) is indexed.
  for (const batchRecords of [64, 300]) {
    it(`answers for every record of a ${batchRecords}-record batch, and for nothing else`, () => {
      const records = signed(batchRecords, batchRecords)
      for (const record of records) expect(covered(records, record)).toBe(true)
      const last = records.at(-1)!
      // Changed in its last byte of value, in its expiry, or a record of another batch: not covered.
      const value = new Uint8Array(last.value!)
      value[value.length - 1]! ^= 1
      expect(covered(records, { ...last, value })).toBe(false)
      expect(covered(records, { ...last, expires: last.expires + 1 })).toBe(false)
      const other = signed(1, 1)[0]!
      expect(checker.auth.covers(checker.auth.checkProof('a', last.proof!)!, other)).toBe(false)
    })
  }

  it('finds a record whose digest shares its first byte with another in the batch', () => {
    // Among 64 random digests two share a first byte about 7 times in 10; 600 records make it certain.
    const records = signed(600, 64)
    const byBatch = new Map<unknown, typeof records>()
    for (const r of records) byBatch.set(r.proof, [...(byBatch.get(r.proof) ?? []), r])
    let collisions = 0
    for (const batch of byBatch.values()) {
      const firsts = batch.map((r) => recordDigest(r)[0])
      collisions += firsts.length - new Set(firsts).size
      for (const r of batch) expect(covered(batch, r)).toBe(true)
    }
    expect(collisions).toBeGreaterThan(0)
  })

  it("does not take a digest that a signer's made-up proof holds across two of its digests", async () => {
    const record = sessionRecord(now, { realm: 'a', origin: origin.origin })
    const digest = recordDigest(record)
    const straddled = Buffer.concat([randomBytes(8), digest, randomBytes(8)])
    const proofOf = async (digests: Uint8Array) => {
      const signature = await origin.privateKey.sign(manifestBytes('a', origin.origin, digests))
      return checker.auth.checkProof('a', { origin: origin.origin, signature, digests })!
    }
    const across = await proofOf(new Uint8Array(Buffer.concat([randomBytes(32), straddled, randomBytes(16)])))
    expect(checker.auth.covers(across, record)).toBe(false)
    // The same, with the digest also in its place further on.
    const also = await proofOf(new Uint8Array(Buffer.concat([straddled, randomBytes(16), digest])))
    expect(checker.auth.covers(also, record)).toBe(true)
  })
})
