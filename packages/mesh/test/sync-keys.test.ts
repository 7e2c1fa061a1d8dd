import { createHash, randomBytes } from 'node:crypto'
import type { SessionRecord } from '@tlsmesh/store'
import { describe, expect, it } from 'vitest'
import { hashesOf, syncKeyOf, versionFingerprintOf } from '../src/sync/sync-keys.ts'

const record = (overrides: Partial<SessionRecord> = {}): SessionRecord => ({
  realm: 'www',
  id: new Uint8Array([1, 2, 3]),
  value: new Uint8Array([9]),
  created: 1_765_000_000_123,
  expires: 1_765_000_060_123,
  origin: '12D3KooWA',
  ...overrides,
})

describe('sync keys and version fingerprints', () => {
  it('places a record by the first 8 bytes of sha256(id), whichever function is asked', () => {
    const r = record()
    const expected = createHash('sha256').update(r.id).digest().readBigUInt64BE(0)
    expect(syncKeyOf(r.id)).toBe(expected)
    expect(hashesOf(r).key).toBe(expected)
    expect(hashesOf(r).fingerprint).toBe(versionFingerprintOf(r))
  })

  it('hashes an id changed in place, or one that differs from the last only in its last byte, afresh', () => {
    const keyOf = (id: Uint8Array) => createHash('sha256').update(id).digest().readBigUInt64BE(0)
    const id = new Uint8Array(randomBytes(32))
    const before = keyOf(id)
    expect(syncKeyOf(id)).toBe(before)
    id[31]! ^= 1
    expect(syncKeyOf(id)).toBe(keyOf(id))
    expect(syncKeyOf(id)).not.toBe(before)
    const shorter = id.subarray(0, 31)
    expect(syncKeyOf(shorter)).toBe(keyOf(shorter))
    // A memcached key (a prefix and a session id in hex) changed in its first byte only.
    const memcacheKey = new Uint8Array(Buffer.from(`tls:${randomBytes(32).toString('hex')}`, 'latin1'))
    const memcacheBefore = keyOf(memcacheKey)
    expect(syncKeyOf(memcacheKey)).toBe(memcacheBefore)
    memcacheKey[0]! ^= 1
    expect(syncKeyOf(memcacheKey)).toBe(keyOf(memcacheKey))
    expect(syncKeyOf(memcacheKey)).not.toBe(memcacheBefore)
    // Ids longer than any memcached key are hashed every time.
    const long = new Uint8Array(randomBytes(300))
    expect(syncKeyOf(long)).toBe(keyOf(long))
    long[299]! ^= 1
    expect(syncKeyOf(long)).toBe(keyOf(long))
  })

  it('gives one version one fingerprint, whatever its value bytes and expiry', () => {
    const a = record()
    const b = record({ value: new Uint8Array([7, 7]), expires: a.expires + 5000 })
    expect(versionFingerprintOf(b)).toBe(versionFingerprintOf(a))
  })

  it('tells versions apart by created, origin, tombstone and id', () => {
    const base = versionFingerprintOf(record())
    const others = [
      record({ created: record().created + 1 }),
      record({ created: record().created + 2 ** 32 }),
      record({ origin: '12D3KooWB' }),
      record({ value: undefined }),
      record({ id: new Uint8Array([1, 2, 4]) }),
    ].map(versionFingerprintOf)
    expect(new Set([base, ...others]).size).toBe(6)
  })

  it('spreads fingerprints evenly: no collision among 100,000 versions, every bit about half set', () => {
    const seen = new Set<bigint>()
    const ones = new Array<number>(64).fill(0)
    for (let i = 0; i < 100_000; i++) {
      // Consecutive creation times from one origin: the case a linear mix would handle worst.
      const fp = versionFingerprintOf(record({ id: randomBytes(16), created: 1_765_000_000_000 + i }))
      seen.add(fp)
      for (let bit = 0; bit < 64; bit++) if ((fp >> BigInt(bit)) & 1n) ones[bit]!++
    }
    expect(seen.size).toBe(100_000)
    for (const count of ones) expect(Math.abs(count - 50_000)).toBeLessThan(1_500)
  })
})
