import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Command } from '../src/metrics.ts'
import { type Endpoint, NOW_S, startEndpoint } from './endpoint-fixture.ts'
import {
  type BinaryRequest,
  type BinaryResponse,
  binaryRequest,
  binaryResponse,
  Op,
  RawConnection,
  storeExtras,
  u32,
} from './raw-clients.ts'

const OK = 0x0000
const NOT_FOUND = 0x0001
const EXISTS = 0x0002
const TOO_LARGE = 0x0003
const INVALID = 0x0004
const NOT_STORED = 0x0005
const UNKNOWN = 0x0081
const NOT_SUPPORTED = 0x0083

let ep: Endpoint
let c: RawConnection

beforeEach(async () => {
  ep = await startEndpoint()
  c = await RawConnection.open(ep.port)
})

afterEach(async () => {
  c.close()
  await ep.close()
})

async function call(req: BinaryRequest): Promise<BinaryResponse> {
  c.send(binaryRequest(req))
  return binaryResponse(c)
}

async function set(key: string, value: string, flags = 0, exptime = 0): Promise<bigint> {
  const res = await call({ opcode: Op.set, key, value, extras: storeExtras(flags, exptime) })
  expect(res.status).toBe(OK)
  return res.cas
}

/** Sends the requests, then a NOOP; returns every response up to the NOOP's (quiet ones answer nothing). */
async function pipeline(reqs: BinaryRequest[]): Promise<BinaryResponse[]> {
  c.send(Buffer.concat([...reqs.map(binaryRequest), binaryRequest({ opcode: Op.noop, opaque: 0xffff })]))
  const out: BinaryResponse[] = []
  for (;;) {
    const res = await binaryResponse(c)
    if (res.opcode === Op.noop) return out
    out.push(res)
  }
}

/** A STAT request's answer: one response per stat, then the empty one that ends the list. */
async function stat(key: string, opaque: number): Promise<Map<string, string>> {
  c.send(binaryRequest({ opcode: Op.stat, key, opaque }))
  const out = new Map<string, string>()
  for (;;) {
    const res = await binaryResponse(c)
    expect([res.opcode, res.status, res.opaque, res.cas]).toEqual([Op.stat, OK, opaque, 0n])
    if (res.key.length === 0) return out
    out.set(res.key.toString(), res.value.toString())
  }
}

/** One case per command label: a new label without a binary test does not compile. */
const COMMAND_CASES: Record<Exclude<Command, 'gets' | 'gats' | 'cas'>, () => Promise<void>> = {
  async get() {
    const cas = await set('a', 'alpha', 0xcafe)
    const hit = await call({ opcode: Op.get, key: 'a', opaque: 42 })
    expect(hit).toMatchObject({ magic: 0x81, opcode: Op.get, status: OK, opaque: 42, cas })
    expect(hit.extras).toEqual(u32(0xcafe))
    expect(hit.key.length).toBe(0)
    expect(hit.value.toString()).toBe('alpha')
    const miss = await call({ opcode: Op.get, key: 'missing' })
    expect(miss.status).toBe(NOT_FOUND)
    expect(miss.value.toString()).toBe('Not found')
    const withKey = await call({ opcode: Op.getk, key: 'a' })
    expect(withKey.key.toString()).toBe('a')
    expect(withKey.value.toString()).toBe('alpha')
    const missWithKey = await call({ opcode: Op.getk, key: 'missing' })
    expect(missWithKey.status).toBe(NOT_FOUND)
    expect(missWithKey.key.toString()).toBe('missing')
    // The multi-get idiom: quiet gets answer hits only, the NOOP marks the end.
    const replies = await pipeline([
      { opcode: Op.getq, key: 'missing', opaque: 1 },
      { opcode: Op.getq, key: 'a', opaque: 2 },
      { opcode: Op.getkq, key: 'nope', opaque: 3 },
      { opcode: Op.getkq, key: 'a', opaque: 4 },
    ])
    expect(replies.map((r) => [r.opcode, r.opaque, r.key.toString(), r.value.toString()])).toEqual([
      [Op.getq, 2, '', 'alpha'],
      [Op.getkq, 4, 'a', 'alpha'],
    ])
    expect(await ep.metric('tlsmesh_memcache_hits_total')).toBe(4)
    expect(await ep.metric('tlsmesh_memcache_misses_total')).toBe(4)
  },
  async set() {
    const first = await set('a', 'one', 7)
    expect(first).not.toBe(0n)
    // A set quoting a cas is a compare-and-set.
    expect(
      (await call({ opcode: Op.set, key: 'a', value: 'x', extras: storeExtras(0, 0), cas: first ^ 1n }))
        .status,
    ).toBe(EXISTS)
    const second = await call({
      opcode: Op.set,
      key: 'a',
      value: 'two',
      extras: storeExtras(8, 0),
      cas: first,
    })
    expect(second.status).toBe(OK)
    expect(second.cas).not.toBe(first)
    expect(
      (await call({ opcode: Op.set, key: 'b', value: 'x', extras: storeExtras(0, 0), cas: 5n })).status,
    ).toBe(NOT_FOUND)
    // SETQ answers nothing when it succeeds, and still answers a failure.
    const replies = await pipeline([
      { opcode: Op.setq, key: 'q', value: 'quiet', extras: storeExtras(0, 0), opaque: 1 },
      { opcode: Op.setq, key: 'q', value: 'x', extras: storeExtras(0, 0), cas: 1n, opaque: 2 },
    ])
    expect(replies.map((r) => [r.opaque, r.status])).toEqual([[2, EXISTS]])
    const got = await call({ opcode: Op.get, key: 'q' })
    expect(got.value.toString()).toBe('quiet')
  },
  async add() {
    expect((await call({ opcode: Op.add, key: 'a', value: 'x', extras: storeExtras(0, 0) })).status).toBe(OK)
    const again = await call({ opcode: Op.add, key: 'a', value: 'y', extras: storeExtras(0, 0) })
    expect(again.status).toBe(EXISTS)
    expect(again.value.toString()).toBe('Data exists for key.')
    const replies = await pipeline([
      { opcode: Op.addq, key: 'b', value: 'x', extras: storeExtras(0, 0), opaque: 1 },
      { opcode: Op.addq, key: 'b', value: 'y', extras: storeExtras(0, 0), opaque: 2 },
    ])
    expect(replies.map((r) => [r.opaque, r.status])).toEqual([[2, EXISTS]])
  },
  async replace() {
    expect((await call({ opcode: Op.replace, key: 'a', value: 'x', extras: storeExtras(0, 0) })).status).toBe(
      NOT_FOUND,
    )
    await set('a', 'old')
    expect(
      (await call({ opcode: Op.replace, key: 'a', value: 'new', extras: storeExtras(3, 0) })).status,
    ).toBe(OK)
    const got = await call({ opcode: Op.get, key: 'a' })
    expect([got.extras.readUInt32BE(0), got.value.toString()]).toEqual([3, 'new'])
    const replies = await pipeline([
      { opcode: Op.replaceq, key: 'a', value: 'q', extras: storeExtras(0, 0), opaque: 1 },
      { opcode: Op.replaceq, key: 'none', value: 'q', extras: storeExtras(0, 0), opaque: 2 },
    ])
    expect(replies.map((r) => [r.opaque, r.status])).toEqual([[2, NOT_FOUND]])
  },
  async append() {
    expect((await call({ opcode: Op.append, key: 'a', value: 'x' })).status).toBe(NOT_STORED)
    await set('a', 'abc', 5)
    expect((await call({ opcode: Op.append, key: 'a', value: 'def' })).status).toBe(OK)
    expect(await pipeline([{ opcode: Op.appendq, key: 'a', value: 'g' }])).toEqual([])
    const got = await call({ opcode: Op.get, key: 'a' })
    expect([got.extras.readUInt32BE(0), got.value.toString()]).toEqual([5, 'abcdefg'])
  },
  async prepend() {
    expect((await call({ opcode: Op.prepend, key: 'a', value: 'x' })).status).toBe(NOT_STORED)
    await set('a', 'abc')
    expect((await call({ opcode: Op.prepend, key: 'a', value: 'xyz' })).status).toBe(OK)
    expect(await pipeline([{ opcode: Op.prependq, key: 'a', value: '_' }])).toEqual([])
    expect((await call({ opcode: Op.get, key: 'a' })).value.toString()).toBe('_xyzabc')
  },
  async delete() {
    const cas = await set('a', 'alpha')
    expect((await call({ opcode: Op.delete, key: 'a', cas: cas ^ 1n })).status).toBe(EXISTS)
    expect((await call({ opcode: Op.delete, key: 'a', cas })).status).toBe(OK)
    expect((await call({ opcode: Op.delete, key: 'a' })).status).toBe(NOT_FOUND)
    await set('b', 'beta')
    const replies = await pipeline([
      { opcode: Op.deleteq, key: 'b', opaque: 1 },
      { opcode: Op.deleteq, key: 'b', opaque: 2 },
    ])
    expect(replies.map((r) => [r.opaque, r.status])).toEqual([[2, NOT_FOUND]])
  },
  async touch() {
    expect((await call({ opcode: Op.touch, key: 'a', extras: u32(100) })).status).toBe(NOT_FOUND)
    await set('a', 'alpha', 9, 10)
    const touched = await call({ opcode: Op.touch, key: 'a', extras: u32(100) })
    expect(touched.status).toBe(OK)
    expect(touched.extras).toEqual(u32(9))
    expect(touched.value.length).toBe(0)
    ep.clock.now += 50_000
    expect((await call({ opcode: Op.get, key: 'a' })).value.toString()).toBe('alpha')
  },
  async gat() {
    expect((await call({ opcode: Op.gat, key: 'a', extras: u32(100) })).status).toBe(NOT_FOUND)
    await set('a', 'alpha', 2, 10)
    const res = await call({ opcode: Op.gat, key: 'a', extras: u32(100) })
    expect([res.status, res.extras.readUInt32BE(0), res.key.length, res.value.toString()]).toEqual([
      OK,
      2,
      0,
      'alpha',
    ])
    const withKey = await call({ opcode: Op.gatk, key: 'a', extras: u32(100) })
    expect([withKey.key.toString(), withKey.value.toString()]).toEqual(['a', 'alpha'])
    const replies = await pipeline([
      { opcode: Op.gatq, key: 'none', extras: u32(100), opaque: 1 },
      { opcode: Op.gatq, key: 'a', extras: u32(100), opaque: 2 },
      { opcode: Op.gatkq, key: 'none', extras: u32(100), opaque: 3 },
      { opcode: Op.gatkq, key: 'a', extras: u32(100), opaque: 4 },
    ])
    expect(replies.map((r) => [r.opaque, r.key.toString(), r.value.toString()])).toEqual([
      [2, '', 'alpha'],
      [4, 'a', 'alpha'],
    ])
    ep.clock.now += 50_000
    expect((await call({ opcode: Op.get, key: 'a' })).value.toString()).toBe('alpha')
  },
  async incr() {
    const res = await call({ opcode: Op.incr, key: 'n', extras: Buffer.alloc(20) })
    expect(res.status).toBe(NOT_SUPPORTED)
    // Refusals answer even the quiet variant.
    expect(
      (await pipeline([{ opcode: Op.incrq, key: 'n', extras: Buffer.alloc(20) }])).map((r) => r.status),
    ).toEqual([NOT_SUPPORTED])
  },
  async decr() {
    expect((await call({ opcode: Op.decr, key: 'n', extras: Buffer.alloc(20) })).status).toBe(NOT_SUPPORTED)
    expect(
      (await pipeline([{ opcode: Op.decrq, key: 'n', extras: Buffer.alloc(20) }])).map((r) => r.status),
    ).toEqual([NOT_SUPPORTED])
  },
  async version() {
    const res = await call({ opcode: Op.version })
    expect([res.status, res.value.toString()]).toEqual([OK, '1.6.0-tlsmesh-test'])
  },
  async verbosity() {
    // memcached 1.6 has no binary VERBOSITY: it answers it as an unknown command, the body skipped.
    const res = await call({ opcode: Op.verbosity, extras: u32(1), opaque: 3 })
    expect([res.opcode, res.status, res.opaque]).toEqual([Op.verbosity, UNKNOWN, 3])
    expect((await call({ opcode: Op.noop })).status).toBe(OK)
  },
  async stats() {
    await set('a', 'alpha')
    await call({ opcode: Op.get, key: 'a' })
    expect(await pipeline([{ opcode: Op.getq, key: 'missing' }])).toEqual([])
    const general = await stat('', 21)
    expect(general.get('get_hits')).toBe('1')
    expect(general.get('get_misses')).toBe('1')
    expect(general.get('cmd_set')).toBe('1')
    expect(general.get('curr_items')).toBe('1')
    expect(general.get('time')).toBe(String(NOW_S))
    expect((await stat('settings', 22)).get('tcpport')).toBe(String(ep.port))
    // memcached matches `reset` as a prefix, and answers it with the terminator alone.
    expect((await stat('resetting', 23)).size).toBe(0)
    expect((await stat('', 24)).get('cmd_get')).toBe('0')
    expect([...(await stat('sizes', 25))]).toEqual([['sizes_status', 'disabled']])
    const unknown = await call({ opcode: Op.stat, key: 'bogus' })
    expect([unknown.status, unknown.value.toString()]).toEqual([NOT_FOUND, 'Not found'])
    expect(await ep.metric('tlsmesh_memcache_commands_total', { command: 'stats', protocol: 'binary' })).toBe(
      6,
    )
  },
  async flush_all() {
    await set('a', 'alpha')
    expect((await call({ opcode: Op.flush })).status).toBe(NOT_SUPPORTED)
    expect((await pipeline([{ opcode: Op.flushq, extras: u32(0) }])).map((r) => r.status)).toEqual([
      NOT_SUPPORTED,
    ])
    expect((await call({ opcode: Op.get, key: 'a' })).status).toBe(OK)
  },
  async noop() {
    const res = await call({ opcode: Op.noop, opaque: 77 })
    expect([res.status, res.opaque, res.extras.length, res.key.length, res.value.length]).toEqual([
      OK,
      77,
      0,
      0,
      0,
    ])
  },
  async quit() {
    const res = await call({ opcode: Op.quit, opaque: 5 })
    expect([res.opcode, res.status, res.opaque]).toEqual([Op.quit, OK, 5])
    await c.waitClosed()
    const d = await RawConnection.open(ep.port)
    d.send(Buffer.concat([binaryRequest({ opcode: Op.quitq }), binaryRequest({ opcode: Op.noop })]))
    await d.waitClosed()
    expect(d.buffered.length).toBe(0)
  },
  async unknown() {
    for (const opcode of [Op.verbosity, 0x20, 0x42, 0xff]) {
      const res = await call({ opcode, key: 'k', value: 'v', opaque: opcode })
      expect([res.opcode, res.status, res.opaque, res.value.toString()]).toEqual([
        opcode,
        UNKNOWN,
        opcode,
        'Unknown command',
      ])
    }
    expect((await call({ opcode: Op.noop })).status).toBe(OK)
    expect(
      await ep.metric('tlsmesh_memcache_commands_total', { command: 'unknown', protocol: 'binary' }),
    ).toBe(4)
  },
}

describe('binary protocol commands', () => {
  for (const [name, run] of Object.entries(COMMAND_CASES)) it(name, run)
})

describe('binary protocol', () => {
  it('round-trips every byte value in keys and values', async () => {
    const key = Buffer.from(Array.from({ length: 250 }, (_, i) => (i * 7) & 0xff))
    const value = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff))
    expect((await call({ opcode: Op.set, key, value, extras: storeExtras(0xffffffff, 0) })).status).toBe(OK)
    const got = await call({ opcode: Op.get, key })
    expect(got.extras.readUInt32BE(0)).toBe(0xffffffff)
    expect(got.value).toEqual(value)
  })

  it('answers a long pipeline in order', async () => {
    const reqs: BinaryRequest[] = []
    for (let i = 0; i < 300; i++) {
      reqs.push({ opcode: Op.set, key: `k${i}`, value: `v${i}`, extras: storeExtras(i, 0), opaque: 2 * i })
      reqs.push({ opcode: Op.get, key: `k${i}`, opaque: 2 * i + 1 })
    }
    const replies = await pipeline(reqs)
    expect(replies.map((r) => r.opaque)).toEqual(reqs.map((r) => r.opaque))
    expect(replies.filter((r) => r.opcode === Op.get).map((r) => r.value.toString())).toEqual(
      Array.from({ length: 300 }, (_, i) => `v${i}`),
    )
  })
})

describe('binary protocol: bad input', () => {
  async function stillServes(): Promise<void> {
    const other = await RawConnection.open(ep.port)
    other.send(binaryRequest({ opcode: Op.version }))
    expect((await binaryResponse(other)).status).toBe(OK)
    other.close()
  }

  it('wrong extras, key or body sizes: invalid arguments, the connection goes on', async () => {
    const bad: BinaryRequest[] = [
      { opcode: Op.get },
      { opcode: Op.get, key: 'a', extras: u32(1) },
      { opcode: Op.get, key: 'a', value: 'v' },
      { opcode: Op.set, key: 'a', value: 'v' },
      { opcode: Op.set, value: 'v', extras: storeExtras(0, 0) },
      { opcode: Op.delete, key: 'a', value: 'v' },
      { opcode: Op.touch, key: 'a' },
      { opcode: Op.gat, key: 'a', extras: u32(1), value: 'v' },
      { opcode: Op.noop, key: 'a' },
      { opcode: Op.version, value: 'v' },
      { opcode: Op.stat, extras: u32(0) },
      { opcode: Op.flush, key: 'a' },
      { opcode: Op.get, key: 'k'.repeat(251) },
      { opcode: Op.set, key: 'k'.repeat(251), value: 'v', extras: storeExtras(0, 0) },
    ]
    for (const req of bad) {
      const res = await call({ ...req, opaque: 9 })
      expect([res.opcode, res.status, res.opaque], JSON.stringify(req)).toEqual([req.opcode, INVALID, 9])
    }
    expect((await call({ opcode: Op.noop })).status).toBe(OK)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'bad-request' })).toBe(bad.length)
  })

  it('sizes that contradict each other: invalid arguments, then close', async () => {
    const req = binaryRequest({ opcode: Op.get, key: 'abc' })
    req.writeUInt32BE(2, 8)
    c.send(req)
    expect((await binaryResponse(c)).status).toBe(INVALID)
    await c.waitClosed()
    await stillServes()
  })

  it('a wrong magic byte mid-stream closes the connection', async () => {
    const bad = binaryRequest({ opcode: Op.noop })
    bad[0] = 0x81
    c.send(Buffer.concat([binaryRequest({ opcode: Op.noop, opaque: 1 }), bad]))
    expect((await binaryResponse(c)).opaque).toBe(1)
    await c.waitClosed()
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'bad-magic' })).toBe(1)
    await stillServes()
  })

  it('a value over maxValueBytes: too large, the body skipped, the old value dropped', async () => {
    await set('a', 'old')
    const big = Buffer.alloc(16 * 1024 + 1, 0x61)
    expect((await call({ opcode: Op.set, key: 'a', value: big, extras: storeExtras(0, 0) })).status).toBe(
      TOO_LARGE,
    )
    expect((await call({ opcode: Op.get, key: 'a' })).status).toBe(NOT_FOUND)
    // A body far over any limit is skipped as it streams in, never buffered.
    await set('a', 'old')
    const huge = Buffer.alloc(1024 * 1024, 0x62)
    const res = await call({ opcode: Op.setq, key: 'a', value: huge, extras: storeExtras(0, 0), opaque: 3 })
    expect([res.status, res.opaque]).toEqual([TOO_LARGE, 3])
    expect((await call({ opcode: Op.get, key: 'a' })).status).toBe(NOT_FOUND)
    const hugeGet = await call({ opcode: Op.get, key: 'a', value: huge })
    expect(hugeGet.status).toBe(INVALID)
    const hugeUnknown = await call({ opcode: 0x42, value: huge })
    expect(hugeUnknown.status).toBe(UNKNOWN)
    expect(await set('b', Buffer.alloc(16 * 1024, 0x63).toString())).not.toBe(0n)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'value-too-large' })).toBe(2)
  })
})
