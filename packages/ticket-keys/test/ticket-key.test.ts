import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  haproxyTicketKeyLine,
  InvalidTicketKeyError,
  nginxTicketKeyFile,
  nodeTicketKeys,
  periodId,
  periodOfId,
  TicketKey,
} from '../src/index.ts'

/** 80 bytes whose value is their offset: every layout can be checked by reading the bytes back. */
const material = Uint8Array.from({ length: 80 }, (_, i) => i)
const key = new TicketKey({
  period: 7,
  material,
  encryptFrom: 7000,
  encryptUntil: 8000,
  decryptUntil: 20_000,
  created: 6500,
  origin: 'peer-a',
})
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)

describe('ticket key layouts', () => {
  it('keeps nginx layout as the record: name 16 | HMAC 32 | AES 32', () => {
    expect([...nginxTicketKeyFile(key)]).toEqual(range(0, 80))
    expect(key.nameHex).toBe(Buffer.from(range(0, 16)).toString('hex'))
  })

  it('derives Node 48 bytes as name | first half of the HMAC key | first half of the AES key', () => {
    const node = nodeTicketKeys(key)
    expect(node.byteLength).toBe(48)
    expect([...node]).toEqual([...range(0, 16), ...range(16, 32), ...range(48, 64)])
  })

  it('writes HAProxy base64 as name | AES 32 | HMAC 32 (struct tls_sess_key_256)', () => {
    const bytes = Buffer.from(haproxyTicketKeyLine(key), 'base64')
    expect([...bytes]).toEqual([...range(0, 16), ...range(48, 80), ...range(16, 48)])
  })

  it('refuses material that is not 80 bytes', () => {
    expect(() => new TicketKey({ ...key, material: new Uint8Array(48) })).toThrow(InvalidTicketKeyError)
  })

  it('never shows the key bytes in JSON or util.inspect', () => {
    const secretHex = Buffer.from(material.subarray(16)).toString('hex')
    const json = JSON.stringify({ key })
    expect(json).toContain(key.nameHex)
    expect(json).not.toContain(secretHex.slice(0, 16))
    expect(json).not.toContain('material')
    expect(inspect(key)).not.toContain('material')
  })
})

describe('period ids', () => {
  it('encodes the period as 8 bytes big-endian and back', () => {
    expect([...periodId(0x0102)]).toEqual([0, 0, 0, 0, 0, 0, 1, 2])
    for (const period of [0, 1, 493_000, 1_760_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(periodOfId(periodId(period))).toBe(period)
    }
  })

  it('refuses what is not a period', () => {
    expect(() => periodId(-1)).toThrow(InvalidTicketKeyError)
    expect(() => periodId(1.5)).toThrow(InvalidTicketKeyError)
    expect(periodOfId(new Uint8Array(7))).toBeUndefined()
    expect(periodOfId(new Uint8Array(8).fill(0xff))).toBeUndefined()
  })
})
