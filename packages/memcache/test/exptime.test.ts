import { DEFAULT_MAX_TTL_MS, DEFAULT_TTL_MS } from '@tlsmesh/store'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_RELATIVE_EXPTIME_SECONDS } from '../src/constants.ts'
import { resolveExptime } from '../src/exptime.ts'
import { type Endpoint, NOW_MS, NOW_S, startEndpoint } from './endpoint-fixture.ts'
import { binaryRequest, binaryResponse, Op, RawConnection, storeExtras, u32 } from './raw-clients.ts'

describe('resolveExptime', () => {
  it('follows memcached: 0 default, up to 30 days relative, beyond absolute, negative expired', () => {
    expect(resolveExptime(0, NOW_MS)).toEqual({ kind: 'default' })
    expect(resolveExptime(1, NOW_MS)).toEqual({ kind: 'ttl', ttlMs: 1000 })
    expect(resolveExptime(MAX_RELATIVE_EXPTIME_SECONDS, NOW_MS)).toEqual({
      kind: 'ttl',
      ttlMs: MAX_RELATIVE_EXPTIME_SECONDS * 1000,
    })
    // One past 30 days is a unix time in January 1970: long gone.
    expect(resolveExptime(MAX_RELATIVE_EXPTIME_SECONDS + 1, NOW_MS)).toEqual({ kind: 'expired' })
    expect(resolveExptime(NOW_S + 60, NOW_MS)).toEqual({ kind: 'ttl', ttlMs: 60_000 })
    expect(resolveExptime(NOW_S, NOW_MS)).toEqual({ kind: 'expired' })
    expect(resolveExptime(NOW_S - 1, NOW_MS)).toEqual({ kind: 'expired' })
    expect(resolveExptime(-1, NOW_MS)).toEqual({ kind: 'expired' })
    expect(resolveExptime(Number.MIN_SAFE_INTEGER, NOW_MS)).toEqual({ kind: 'expired' })
    // Absolute times count from the injected clock, to the millisecond.
    expect(resolveExptime(NOW_S + 1, NOW_MS + 400)).toEqual({ kind: 'ttl', ttlMs: 600 })
  })
})

describe('exptime through the endpoint (injected clock)', () => {
  let ep: Endpoint
  /** A connection speaks one protocol, chosen by its first byte: one of each. */
  let c: RawConnection
  let b: RawConnection

  beforeEach(async () => {
    ep = await startEndpoint()
    c = await RawConnection.open(ep.port)
    b = await RawConnection.open(ep.port)
  })

  afterEach(async () => {
    c.close()
    b.close()
    await ep.close()
  })

  async function textSet(key: string, exptime: number | string): Promise<void> {
    c.send(`set ${key} 0 0 1\r\nv\r\n`.replace(' 0 0 ', ` 0 ${exptime} `))
    expect(await c.line()).toBe('STORED')
  }

  async function binarySet(key: string, exptime: number): Promise<void> {
    b.send(binaryRequest({ opcode: Op.set, key, value: 'v', extras: storeExtras(0, exptime) }))
    expect((await binaryResponse(b)).status).toBe(0)
  }

  async function alive(key: string): Promise<boolean> {
    return ep.cache.get('default', Buffer.from(key)) !== undefined
  }

  /**
   * Alive just before `ms` from now, gone at `ms`; then the clock goes back (a key checked once
   * expired is removed by the store, so each key is checked once).
   */
  async function expectLifetime(key: string, ms: number): Promise<void> {
    const start = ep.clock.now
    ep.clock.now = start + ms - 1
    expect(await alive(key), `${key} alive at ${ms - 1} ms`).toBe(true)
    ep.clock.now = start + ms
    expect(await alive(key), `${key} gone at ${ms} ms`).toBe(false)
    ep.clock.now = start
  }

  it('0 gives the cache default TTL', async () => {
    await textSet('t', 0)
    await binarySet('b', 0)
    await expectLifetime('t', DEFAULT_TTL_MS)
    await expectLifetime('b', DEFAULT_TTL_MS)
  })

  it('relative seconds up to 30 days, capped by the realm TTL cap', async () => {
    await textSet('t', 100)
    await binarySet('b', 100)
    await expectLifetime('t', 100_000)
    await expectLifetime('b', 100_000)
    await textSet('month', MAX_RELATIVE_EXPTIME_SECONDS)
    await expectLifetime('month', DEFAULT_MAX_TTL_MS)
  })

  it('beyond 30 days: an absolute unix time', async () => {
    await textSet('t', NOW_S + 50)
    await binarySet('b', NOW_S + 50)
    await expectLifetime('t', 50_000)
    await expectLifetime('b', 50_000)
    // The binary exptime is unsigned: 0xffffffff is the year 2106, capped like any long TTL.
    await binarySet('far', 0xffffffff)
    await expectLifetime('far', DEFAULT_MAX_TTL_MS)
  })

  it('an absolute time in the past or a negative one: STORED, nothing kept, the old value gone', async () => {
    for (const exptime of [MAX_RELATIVE_EXPTIME_SECONDS + 1, NOW_S - 10, NOW_S, -1]) {
      await textSet('k', 0)
      await textSet('k', exptime)
      expect(await alive('k'), String(exptime)).toBe(false)
      c.send(`add k 0 ${exptime} 1\r\nv\r\nget k\r\n`)
      expect(await c.line()).toBe('STORED')
      expect(await c.retrieval()).toBe('END\r\n')
    }
    await binarySet('b', 0)
    await binarySet('b', NOW_S - 10)
    expect(await alive('b')).toBe(false)
  })

  it('touch and gat with a past time expire the key (gat still returns it once)', async () => {
    await textSet('a', 0)
    c.send('touch a -1\r\nget a\r\n')
    expect(await c.line()).toBe('TOUCHED')
    expect(await c.retrieval()).toBe('END\r\n')
    await textSet('b', 0)
    c.send('gat -1 b\r\nget b\r\n')
    expect(await c.retrieval()).toBe('VALUE b 0 1\r\nv\r\nEND\r\n')
    expect(await c.retrieval()).toBe('END\r\n')
    await textSet('c', 0)
    b.send(binaryRequest({ opcode: Op.touch, key: 'c', extras: u32(NOW_S - 1) }))
    expect((await binaryResponse(b)).status).toBe(0)
    expect(await alive('c')).toBe(false)
  })

  it('touch and gat restart the lifetime from now', async () => {
    await textSet('a', 10)
    ep.clock.now += 5_000
    c.send('touch a 10\r\n')
    expect(await c.line()).toBe('TOUCHED')
    // Past the first lifetime (10 s), within the second (5 + 10 s).
    ep.clock.now += 9_000
    expect(await alive('a')).toBe(true)
    b.send(binaryRequest({ opcode: Op.gat, key: 'a', extras: u32(20) }))
    expect((await binaryResponse(b)).value.toString()).toBe('v')
    await expectLifetime('a', 20_000)
  })
})
