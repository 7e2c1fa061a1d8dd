import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { parsePeerList } from '../src/peer-exchange.ts'

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
const parsed = (value: unknown) =>
  parsePeerList(typeof value === 'string' ? new TextEncoder().encode(value) : encode(value)).map((p) => ({
    id: p.id.toString(),
    addrs: p.addrs.map((a) => a.toString()),
  }))

let ids: string[]
beforeAll(async () => {
  ids = await Promise.all(
    Array.from({ length: 3 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()),
  )
})
const id = (i: number): string => ids[i]!

describe('parsePeerList', () => {
  it('parses a peer list', () => {
    const list = {
      peers: [
        { id: id(0), addrs: ['/ip4/10.0.0.1/tcp/7645', '/ip6/::1/tcp/7645'] },
        { id: id(1), addrs: ['/dns4/node-2.example/tcp/7645'] },
      ],
    }
    expect(parsed(list)).toEqual(list.peers)
  })

  const garbage: Record<string, unknown> = {
    'not JSON': '{"peers": [',
    'binary noise': '\u0000\u00ff\u0013',
    'JSON null': 'null',
    'a number': 42,
    'an array': [{ id: 'x', addrs: [] }],
    'no peers field': { nodes: [] },
    'peers not an array': { peers: { id: 'x' } },
  }
  for (const [name, value] of Object.entries(garbage)) {
    it(`gives an empty list for ${name}`, () => {
      expect(parsed(value)).toEqual([])
    })
  }

  it('drops invalid entries and keeps the valid ones', () => {
    const good = { id: id(2), addrs: ['/ip4/10.0.0.3/tcp/7645'] }
    const list = {
      peers: [
        null,
        7,
        'a string',
        { id: 'not-a-peer-id', addrs: ['/ip4/10.0.0.1/tcp/1'] },
        { id: id(0) },
        { id: id(0), addrs: 'not an array' },
        { id: id(0), addrs: [] },
        { id: id(0), addrs: [1, {}, null] },
        { id: id(1), addrs: ['not a multiaddr'] },
        { id: 12, addrs: ['/ip4/10.0.0.1/tcp/1'] },
        { id: 'x'.repeat(100_000), addrs: ['/ip4/10.0.0.1/tcp/1'] },
        good,
      ],
    }
    expect(parsed(list)).toEqual([good])
  })

  it('keeps only the first 64 peers and 8 addresses of each', () => {
    const addrs = Array.from({ length: 20 }, (_, i) => `/ip4/10.0.0.${i + 1}/tcp/7645`)
    const list = { peers: Array.from({ length: 200 }, (_, i) => ({ id: id(i % 3), addrs })) }
    const result = parsed(list)
    expect(result).toHaveLength(64)
    for (const entry of result) expect(entry.addrs).toEqual(addrs.slice(0, 8))
  })
})
