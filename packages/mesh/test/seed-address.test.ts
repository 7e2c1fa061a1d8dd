import { describe, expect, it } from 'vitest'
import {
  type HostResolver,
  InvalidSeedError,
  MAX_ADDRS_PER_SEED,
  parseSeed,
  resolveSeed,
} from '../src/seed-address.ts'

const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

/** A resolver over a fixed table, recording what it was asked. */
function tableResolver(table: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = []
  const resolve = async (host: string, family: 0 | 4 | 6): Promise<string[]> => {
    asked.push(`${host}/${family}`)
    const found = table[host]
    if (found === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return found
  }
  return Object.assign(resolve, { asked })
}

describe('parseSeed', () => {
  const addresses: Record<string, string> = {
    '10.0.0.5:7645': '/ip4/10.0.0.5/tcp/7645',
    '[fd00::5]:7645': '/ip6/fd00::5/tcp/7645',
    '/ip4/10.0.0.5/tcp/7645': '/ip4/10.0.0.5/tcp/7645',
    '/ip6/::1/tcp/1': '/ip6/::1/tcp/1',
    [`/ip4/10.0.0.5/tcp/7645/p2p/${PEER}`]: `/ip4/10.0.0.5/tcp/7645/p2p/${PEER}`,
    // Not ours to resolve, but libp2p's, as before: it names the peer.
    [`/dnsaddr/fleet.example/p2p/${PEER}`]: `/dnsaddr/fleet.example/p2p/${PEER}`,
  }
  for (const [input, addr] of Object.entries(addresses)) {
    it(`dials ${input} as ${addr}`, () => {
      const seed = parseSeed(input)
      expect(seed.kind).toBe('address')
      expect(seed.kind === 'address' && seed.addr.toString()).toBe(addr)
    })
  }

  const names: Record<string, { host: string; family: 0 | 4 | 6; port: number; peerId?: string }> = {
    'node-2.example:7645': { host: 'node-2.example', family: 0, port: 7645 },
    'localhost:1': { host: 'localhost', family: 0, port: 1 },
    '/dns4/tlsmesh.fleet.svc.cluster.local/tcp/7645': {
      host: 'tlsmesh.fleet.svc.cluster.local',
      family: 4,
      port: 7645,
    },
    '/dns6/node-2.example/tcp/7645': { host: 'node-2.example', family: 6, port: 7645 },
    '/dns/node-2.example/tcp/65535': { host: 'node-2.example', family: 0, port: 65535 },
    [`/dns4/node-2.example/tcp/7645/p2p/${PEER}`]: {
      host: 'node-2.example',
      family: 4,
      port: 7645,
      peerId: PEER,
    },
  }
  for (const [input, expected] of Object.entries(names)) {
    it(`resolves ${input} by name`, () => {
      expect(parseSeed(input)).toEqual({ kind: 'dns', source: input, ...expected })
    })
  }

  const invalid = [
    '',
    'node-2',
    'node-2:',
    'node-2:0',
    'node-2:70000',
    ':7645',
    'node 2:7645',
    'node_2!:7645',
    '[not-v6]:7645',
    'fd00::5:7645',
    'http://node-2:7645',
    '/ip4/10.0.0.5/tcp',
    '/ip4/10.0.0.5/udp/7645',
    '/ip4/10.0.0.5',
    '/dns4/node-2.example/tcp/0',
    '/dnsaddr/fleet.example',
    '/ip4/10.0.0.5/tcp/7645/ws',
    `${'a'.repeat(64)}.example:7645`,
  ]
  for (const input of invalid) {
    it(`refuses ${JSON.stringify(input)} with a one-line InvalidSeedError`, () => {
      let caught: unknown
      try {
        parseSeed(input)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(InvalidSeedError)
      expect((caught as Error).name).toBe('InvalidSeedError')
      expect((caught as Error).message).not.toContain('\n')
    })
  }
})

describe('resolveSeed', () => {
  it('dials every A and AAAA record of a name, with the port and any peer id', async () => {
    const resolve = tableResolver({ 'fleet.example': ['10.0.0.1', '10.0.0.2', 'fd00::3', '10.0.0.1'] })
    const any = await resolveSeed(parseSeed('fleet.example:7645'), resolve)
    expect(any.map(String)).toEqual([
      '/ip4/10.0.0.1/tcp/7645',
      '/ip4/10.0.0.2/tcp/7645',
      '/ip6/fd00::3/tcp/7645',
    ])
    const v4 = await resolveSeed(parseSeed(`/dns4/fleet.example/tcp/1/p2p/${PEER}`), resolve)
    expect(v4.map(String)).toEqual([`/ip4/10.0.0.1/tcp/1/p2p/${PEER}`, `/ip4/10.0.0.2/tcp/1/p2p/${PEER}`])
    const v6 = await resolveSeed(parseSeed('/dns6/fleet.example/tcp/1'), resolve)
    expect(v6.map(String)).toEqual(['/ip6/fd00::3/tcp/1'])
    expect(resolve.asked).toEqual(['fleet.example/0', 'fleet.example/4', 'fleet.example/6'])
  })

  it('asks the resolver again each time, and follows the name to new hosts', async () => {
    const table: Record<string, string[]> = { 'fleet.example': ['10.0.0.1'] }
    const resolve = tableResolver(table)
    const seed = parseSeed('/dns4/fleet.example/tcp/7645')
    expect((await resolveSeed(seed, resolve)).map(String)).toEqual(['/ip4/10.0.0.1/tcp/7645'])
    table['fleet.example'] = ['10.0.0.7', '10.0.0.8']
    expect((await resolveSeed(seed, resolve)).map(String)).toEqual([
      '/ip4/10.0.0.7/tcp/7645',
      '/ip4/10.0.0.8/tcp/7645',
    ])
    expect(resolve.asked).toHaveLength(2)
  })

  it('keeps at most MAX_ADDRS_PER_SEED addresses of a name', async () => {
    const many = Array.from({ length: 100 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)
    const addrs = await resolveSeed(parseSeed('big.example:1'), tableResolver({ 'big.example': many }))
    expect(addrs).toHaveLength(MAX_ADDRS_PER_SEED)
  })

  it('never asks the resolver for an address seed', async () => {
    const resolve = tableResolver({})
    expect((await resolveSeed(parseSeed('10.0.0.5:7645'), resolve)).map(String)).toEqual([
      '/ip4/10.0.0.5/tcp/7645',
    ])
    expect(resolve.asked).toEqual([])
  })

  it('passes a resolver failure on (the dialer logs it and dials the other seeds)', async () => {
    await expect(resolveSeed(parseSeed('gone.example:1'), tableResolver({}))).rejects.toThrow('ENOTFOUND')
  })
})
