import type { SessionRecord } from '@tlsmesh/store'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { casUniqueOf, decodeStoredValue, encodeStoredValue } from '../src/stored-value.ts'

describe('stored value encoding', () => {
  it('keeps flags-0 values as the client sent them (H2O, Apache: the record is the session)', () => {
    const der = Buffer.from([0x30, 0x82, 0x01, 0x02])
    expect(Buffer.from(encodeStoredValue(0, der))).toEqual(der)
    expect(Buffer.from(encodeStoredValue(0, Buffer.alloc(0)))).toEqual(Buffer.alloc(0))
  })

  it('prefixes nonzero flags, and flags-0 data that starts with the marker', () => {
    expect(Buffer.from(encodeStoredValue(8, Buffer.from('ab')))).toEqual(
      Buffer.from([0xff, 0, 0, 0, 8, 0x61, 0x62]),
    )
    expect(Buffer.from(encodeStoredValue(0, Buffer.from([0xff])))).toEqual(
      Buffer.from([0xff, 0, 0, 0, 0, 0xff]),
    )
  })

  it('round-trips any flags and data', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 64 }), (flags, data) => {
        const decoded = decodeStoredValue(encodeStoredValue(flags, data))
        expect(decoded.flags).toBe(flags)
        expect(Buffer.from(decoded.data)).toEqual(Buffer.from(data))
      }),
    )
  })

  it('copies the data: the socket buffer it came from may hold other requests', () => {
    const data = Buffer.from('abc')
    const stored = encodeStoredValue(0, data)
    data[0] = 0x7a
    expect(Buffer.from(stored).toString()).toBe('abc')
  })
})

describe('cas unique', () => {
  const record: SessionRecord = {
    realm: 'default',
    id: Buffer.from('k'),
    value: Buffer.from('v'),
    created: 1_700_000_000_000,
    expires: 1_700_000_300_000,
    origin: 'local',
  }

  it('is stable for one version and changes with created, origin or value', () => {
    const cas = casUniqueOf(record)
    expect(cas).toBeGreaterThan(0n)
    expect(casUniqueOf({ ...record, id: Buffer.from('k'), expires: record.expires + 5 })).toBe(cas)
    expect(casUniqueOf({ ...record, created: record.created + 1 })).not.toBe(cas)
    expect(casUniqueOf({ ...record, origin: 'peer' })).not.toBe(cas)
    expect(casUniqueOf({ ...record, value: Buffer.from('w') })).not.toBe(cas)
  })
})
