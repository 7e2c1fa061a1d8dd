import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Command } from '../src/metrics.ts'
import { type Endpoint, NOW_S, startEndpoint } from './endpoint-fixture.ts'
import { RawConnection } from './raw-clients.ts'

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

async function set(key: string, value: string, flags = 0, exptime = 0): Promise<void> {
  c.send(`set ${key} ${flags} ${exptime} ${Buffer.byteLength(value, 'latin1')}\r\n${value}\r\n`)
  expect(await c.line()).toBe('STORED')
}

async function gets(key: string): Promise<string> {
  c.send(`gets ${key}\r\n`)
  const reply = await c.retrieval()
  const cas = / (\d+)\r\n/.exec(reply)?.[1]
  if (cas === undefined) throw new Error(`no cas in ${reply}`)
  return cas
}

/** A `stats` list, by name, up to its END. */
async function stats(command: string): Promise<Map<string, string>> {
  c.send(`${command}\r\n`)
  const out = new Map<string, string>()
  for (;;) {
    const line = await c.line()
    if (line === 'END') return out
    const match = /^STAT (\S+) (.*)$/.exec(line)
    if (match === null) throw new Error(`not a stat: ${line}`)
    out.set(match[1]!, match[2]!)
  }
}

/** One case per command label: a new label without a text test does not compile (noop is binary-only). */
const COMMAND_CASES: Record<Exclude<Command, 'noop'>, () => Promise<void>> = {
  async get() {
    await set('a', 'alpha', 5)
    await set('b', 'beta')
    c.send('get a missing b\r\n')
    expect(await c.retrieval()).toBe('VALUE a 5 5\r\nalpha\r\nVALUE b 0 4\r\nbeta\r\nEND\r\n')
    c.send('get missing\r\n')
    expect(await c.retrieval()).toBe('END\r\n')
    expect(await ep.metric('tlsmesh_memcache_hits_total')).toBe(2)
    expect(await ep.metric('tlsmesh_memcache_misses_total')).toBe(2)
  },
  async gets() {
    await set('a', 'alpha')
    const first = await gets('a')
    expect(first).toMatch(/^\d+$/)
    expect(await gets('a')).toBe(first)
    await set('a', 'other')
    expect(await gets('a')).not.toBe(first)
    c.send('gets a missing\r\n')
    expect(await c.retrieval()).toMatch(/^VALUE a 0 5 \d+\r\nother\r\nEND\r\n$/)
  },
  async gat() {
    await set('a', 'alpha', 0, 10)
    c.send('gat 100 a missing\r\n')
    expect(await c.retrieval()).toBe('VALUE a 0 5\r\nalpha\r\nEND\r\n')
    ep.clock.now += 50_000
    c.send('get a\r\n')
    expect(await c.retrieval()).toBe('VALUE a 0 5\r\nalpha\r\nEND\r\n')
  },
  async gats() {
    await set('a', 'alpha', 3, 10)
    c.send('gats 100 a\r\n')
    const reply = await c.retrieval()
    const cas = /^VALUE a 3 5 (\d+)\r\nalpha\r\nEND\r\n$/.exec(reply)?.[1]
    expect(cas).toBeDefined()
    // The cas of a gats is the one a following cas must quote.
    c.send(`cas a 0 0 1 ${cas}\r\nx\r\n`)
    expect(await c.line()).toBe('STORED')
  },
  async set() {
    await set('a', 'alpha', 4294967295)
    c.send('get a\r\n')
    expect(await c.retrieval()).toBe('VALUE a 4294967295 5\r\nalpha\r\nEND\r\n')
    await set('empty', '')
    c.send('get empty\r\n')
    expect(await c.retrieval()).toBe('VALUE empty 0 0\r\n\r\nEND\r\n')
    // Values are bytes: every byte value, CR LF and "END" included, round-trips.
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const value = Buffer.concat([all, Buffer.from('\r\nEND\r\n')])
    c.send(Buffer.concat([Buffer.from(`set bin 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]))
    expect(await c.line()).toBe('STORED')
    c.send('get bin\r\n')
    const expected = Buffer.concat([
      Buffer.from(`VALUE bin 0 ${value.length}\r\n`),
      value,
      Buffer.from('\r\nEND\r\n'),
    ])
    expect(await c.read((b) => (b.length >= expected.length ? expected.length : undefined))).toEqual(expected)
    // A line ending in a bare \n is accepted, as memcached does.
    c.send('set lf 0 0 2\nhi\r\nget lf\n')
    expect(await c.line()).toBe('STORED')
    expect(await c.retrieval()).toBe('VALUE lf 0 2\r\nhi\r\nEND\r\n')
  },
  async add() {
    c.send('add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\nget a\r\n')
    expect(await c.line()).toBe('STORED')
    expect(await c.line()).toBe('NOT_STORED')
    expect(await c.retrieval()).toBe('VALUE a 0 1\r\nx\r\nEND\r\n')
  },
  async replace() {
    c.send('replace a 0 0 1\r\nx\r\n')
    expect(await c.line()).toBe('NOT_STORED')
    await set('a', 'old')
    c.send('replace a 2 0 3\r\nnew\r\nget a\r\n')
    expect(await c.line()).toBe('STORED')
    expect(await c.retrieval()).toBe('VALUE a 2 3\r\nnew\r\nEND\r\n')
  },
  async append() {
    c.send('append a 0 0 1\r\nx\r\n')
    expect(await c.line()).toBe('NOT_STORED')
    await set('a', 'abc', 9, 10)
    // The item keeps its flags and expiry, as in memcached.
    c.send('append a 1 1000 3\r\ndef\r\nget a\r\n')
    expect(await c.line()).toBe('STORED')
    expect(await c.retrieval()).toBe('VALUE a 9 6\r\nabcdef\r\nEND\r\n')
    ep.clock.now += 11_000
    c.send('get a\r\n')
    expect(await c.retrieval()).toBe('END\r\n')
  },
  async prepend() {
    c.send('prepend a 0 0 1\r\nx\r\n')
    expect(await c.line()).toBe('NOT_STORED')
    await set('a', 'abc', 9)
    c.send('prepend a 0 0 3\r\nxyz\r\nget a\r\n')
    expect(await c.line()).toBe('STORED')
    expect(await c.retrieval()).toBe('VALUE a 9 6\r\nxyzabc\r\nEND\r\n')
  },
  async cas() {
    c.send('cas a 0 0 1 1\r\nx\r\n')
    expect(await c.line()).toBe('NOT_FOUND')
    await set('a', 'one')
    const cas = await gets('a')
    c.send(`cas a 0 0 3 ${BigInt(cas) ^ 1n}\r\ntwo\r\n`)
    expect(await c.line()).toBe('EXISTS')
    c.send(`cas a 0 0 3 ${cas}\r\ntwo\r\n`)
    expect(await c.line()).toBe('STORED')
    c.send(`cas a 0 0 5 ${cas}\r\nthree\r\nget a\r\n`)
    expect(await c.line()).toBe('EXISTS')
    expect(await c.retrieval()).toBe('VALUE a 0 3\r\ntwo\r\nEND\r\n')
    c.send('cas a 0 0 1 notanumber\r\nx\r\nversion\r\n')
    expect(await c.line()).toBe('CLIENT_ERROR bad command line format')
    expect(await c.line()).toMatch(/^VERSION /)
  },
  async delete() {
    await set('a', 'alpha')
    c.send('delete a\r\ndelete a\r\nget a\r\n')
    expect(await c.line()).toBe('DELETED')
    expect(await c.line()).toBe('NOT_FOUND')
    expect(await c.retrieval()).toBe('END\r\n')
    await set('b', 'beta')
    c.send('delete b 0\r\ndelete b 5\r\n')
    expect(await c.line()).toBe('DELETED')
    expect(await c.line()).toMatch(/^CLIENT_ERROR bad command line format/)
  },
  async touch() {
    c.send('touch a 10\r\n')
    expect(await c.line()).toBe('NOT_FOUND')
    await set('a', 'alpha', 0, 10)
    c.send('touch a 100\r\n')
    expect(await c.line()).toBe('TOUCHED')
    ep.clock.now += 50_000
    c.send('get a\r\n')
    expect(await c.retrieval()).toBe('VALUE a 0 5\r\nalpha\r\nEND\r\n')
  },
  async incr() {
    await set('n', '1')
    c.send('incr n 1\r\n')
    expect(await c.line()).toMatch(/^SERVER_ERROR incr and decr are not supported/)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'not-supported' })).toBe(1)
  },
  async decr() {
    c.send('decr n 1 noreply\r\ndecr n\r\nversion\r\n')
    // noreply silences every answer, refusals too, as in memcached 1.6; the refusal is still counted.
    expect(await c.line()).toBe('ERROR')
    expect(await c.line()).toMatch(/^VERSION /)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'not-supported' })).toBe(1)
  },
  async version() {
    // Any arguments are ignored: clients send such lines to resync a connection.
    c.send('version\r\nversion foo bar\r\n')
    expect(await c.line()).toBe('VERSION 1.6.0-tlsmesh-test')
    expect(await c.line()).toBe('VERSION 1.6.0-tlsmesh-test')
  },
  async verbosity() {
    c.send(
      'verbosity 1\r\nverbosity 1 noreply\r\nverbosity x\r\nverbosity x noreply\r\nverbosity 1 2\r\nversion\r\n',
    )
    expect(await c.line()).toBe('OK')
    expect(await c.line()).toBe('CLIENT_ERROR bad command line format')
    expect(await c.line()).toBe('OK')
    expect(await c.line()).toMatch(/^VERSION /)
  },
  async stats() {
    await set('a', 'alpha')
    c.send('get a missing\r\n')
    await c.retrieval()
    const general = await stats('stats')
    const counters = ['cmd_get', 'get_hits', 'get_misses', 'cmd_set', 'total_items', 'curr_items']
    expect(counters.map((name) => general.get(name))).toEqual(['2', '1', '1', '1', '1', '1'])
    expect(general.get('curr_connections')).toBe('1')
    expect(general.get('version')).toBe('1.6.0-tlsmesh-test')
    expect(general.get('time')).toBe(String(NOW_S))
    expect(general.get('pid')).toBe(String(process.pid))
    c.send('verbosity 5\r\n')
    expect(await c.line()).toBe('OK')
    const settings = await stats('stats settings')
    expect(settings.get('tcpport')).toBe(String(ep.port))
    expect(settings.get('item_size_max')).toBe('16384')
    expect(settings.get('flush_enabled')).toBe('no')
    // memcached caps the level at 2.
    expect(settings.get('verbosity')).toBe('2')
    c.send('stats reset\r\n')
    expect(await c.line()).toBe('RESET')
    expect((await stats('stats')).get('cmd_get')).toBe('0')
    expect([...(await stats('stats items'))]).toEqual([])
    expect([...(await stats('stats slabs'))]).toEqual([
      ['active_slabs', '0'],
      ['total_malloced', '0'],
    ])
    c.send('stats bogus\r\nstats noreply\r\n')
    expect(await c.line()).toBe('ERROR')
    expect(await c.line()).toBe('ERROR')
    expect(await ep.metric('tlsmesh_memcache_commands_total', { command: 'stats', protocol: 'text' })).toBe(8)
  },
  async flush_all() {
    await set('a', 'alpha')
    c.send('flush_all\r\nflush_all noreply\r\nget a\r\n')
    // The noreply one is refused silently (memcached started with -F does the same), and counted.
    expect(await c.line()).toBe('SERVER_ERROR flush_all is disabled on this endpoint')
    expect(await c.retrieval()).toBe('VALUE a 0 5\r\nalpha\r\nEND\r\n')
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'flush-disabled' })).toBe(2)
  },
  async quit() {
    c.send('version\r\nquit\r\nversion\r\n')
    expect(await c.line()).toMatch(/^VERSION /)
    await c.waitClosed()
    expect(c.buffered.length).toBe(0)
  },
  async unknown() {
    c.send('bogus a b\r\n\r\nmg a v\r\nGET a\r\nversion\r\n')
    for (let i = 0; i < 4; i++) expect(await c.line()).toBe('ERROR')
    expect(await c.line()).toMatch(/^VERSION /)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'unknown-command' })).toBe(4)
  },
}

describe('text protocol commands', () => {
  for (const [name, run] of Object.entries(COMMAND_CASES)) it(name, run)
})

describe('text protocol', () => {
  it('noreply silences storage, delete, touch and verbosity', async () => {
    c.send(
      'set a 0 0 1 noreply\r\nx\r\nadd a 0 0 1 noreply\r\ny\r\nreplace a 0 0 1 noreply\r\nz\r\n' +
        'append a 0 0 1 noreply\r\n1\r\nprepend a 0 0 1 noreply\r\n0\r\ntouch a 100 noreply\r\n' +
        'set b 0 0 1 noreply\r\nb\r\ndelete b noreply\r\nverbosity 0 noreply\r\nget a b\r\n',
    )
    expect(await c.retrieval()).toBe('VALUE a 0 3\r\n0z1\r\nEND\r\n')
    expect((await c.quiet(20)).length).toBe(0)
  })

  it('answers a pipeline of many commands in one packet in order', async () => {
    let request = ''
    let expected = ''
    for (let i = 0; i < 200; i++) {
      request += `set k${i} ${i} 0 ${String(i).length}\r\n${i}\r\nget k${i}\r\n`
      expected += `STORED\r\nVALUE k${i} ${i} ${String(i).length}\r\n${i}\r\nEND\r\n`
    }
    c.send(request)
    const reply = await c.read((b) => (b.length >= expected.length ? expected.length : undefined))
    expect(reply.toString('latin1')).toBe(expected)
    expect(await ep.metric('tlsmesh_memcache_commands_total', { command: 'set', protocol: 'text' })).toBe(200)
  })

  it('answers 5,000 sets pipelined in one write in order, and keeps a trailing partial command', async () => {
    const value = 'v'.repeat(200)
    let request = ''
    for (let i = 0; i < 5000; i++) request += `set k${i} 0 0 ${value.length}\r\n${value}\r\n`
    // A command cut in its data block: held until the rest arrives, never answered early.
    c.send(`${request}set tail 0 0 5\r\nab`)
    const expected = 'STORED\r\n'.repeat(5000)
    const reply = await c.read((b) => (b.length >= expected.length ? expected.length : undefined))
    expect(reply.toString('latin1')).toBe(expected)
    expect((await c.quiet(20)).length).toBe(0)
    c.send('cde\r\nget tail k0 k4999\r\n')
    expect(await c.line()).toBe('STORED')
    expect(await c.retrieval()).toBe(
      `VALUE tail 0 5\r\nabcde\r\nVALUE k0 0 200\r\n${value}\r\nVALUE k4999 0 200\r\n${value}\r\nEND\r\n`,
    )
    expect(await ep.metric('tlsmesh_memcache_commands_total', { command: 'set', protocol: 'text' })).toBe(
      5001,
    )
  })

  it('gat with an exptime and no key answers an empty list; a miss after a hit still ends the list', async () => {
    await set('a', 'alpha')
    c.send('gat 10\r\nget a missing\r\n')
    expect(await c.retrieval()).toBe('END\r\n')
    expect(await c.retrieval()).toBe('VALUE a 0 5\r\nalpha\r\nEND\r\n')
  })

  it('reassembles commands split across packets, one byte at a time', async () => {
    const script = 'set key 1 0 5\r\nva\r\nl\r\ngets key\r\ndelete key\r\n'
    c.socket.setNoDelay(true)
    for (const byte of Buffer.from(script)) {
      c.send(Buffer.from([byte]))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await c.line()).toBe('STORED')
    expect(await c.retrieval()).toMatch(/^VALUE key 1 5 \d+\r\nva\r\nl\r\nEND\r\n$/)
    expect(await c.line()).toBe('DELETED')
  })

  it('answers a client that half-closes after its last request', async () => {
    await set('a', 'alpha')
    c.send('get a\r\n')
    c.socket.end()
    expect(await c.retrieval()).toBe('VALUE a 0 5\r\nalpha\r\nEND\r\n')
    await c.waitClosed()
  })

  it('serves keys of 250 bytes with any non-control byte', async () => {
    const key = `${'k'.repeat(241)}\x80\xff\xe9\x21~[]{}`
    expect(Buffer.byteLength(key, 'latin1')).toBe(250)
    await set(key, 'v')
    c.send(`get ${key}\r\n`)
    expect(await c.retrieval()).toBe(`VALUE ${key} 0 1\r\nv\r\nEND\r\n`)
  })
})

describe('text protocol: bad input', () => {
  async function stillServes(): Promise<void> {
    const other = await RawConnection.open(ep.port)
    other.send('set probe 0 0 2\r\nok\r\nget probe\r\n')
    expect(await other.line()).toBe('STORED')
    expect(await other.retrieval()).toBe('VALUE probe 0 2\r\nok\r\nEND\r\n')
    other.close()
  }

  it('malformed storage lines: an error, the data block skipped, the connection goes on', async () => {
    const lines: Array<[string, string | undefined]> = [
      ['set a x 0 5', 'CLIENT_ERROR bad command line format'],
      ['set a 0 x 5', 'CLIENT_ERROR bad command line format'],
      ['set a -1 0 5', 'CLIENT_ERROR bad command line format'],
      ['set a 4294967296 0 5', 'CLIENT_ERROR bad command line format'],
      // noreply silences the error, as in memcached 1.6.
      ['set a x 0 5 noreply', undefined],
      // Token counts memcached does not take: ERROR, as it answers.
      ['set a 0 0 5 noreply junk', 'ERROR'],
      ['cas a 0 0 5', 'ERROR'],
      // memcached ignores a last token that is not noreply.
      ['set a 0 0 5 junk', 'STORED'],
    ]
    for (const [line, answer] of lines) {
      c.send(`${line}\r\nhello\r\nversion\r\n`)
      if (answer !== undefined) expect(await c.line(), line).toBe(answer)
      expect(await c.line(), line).toMatch(/^VERSION /)
    }
    c.send('set a 0 0\r\nget\r\ntouch a\r\nversion\r\n')
    expect(await c.line()).toBe('ERROR')
    expect(await c.line()).toBe('ERROR')
    expect(await c.line()).toBe('ERROR')
    expect(await c.line()).toMatch(/^VERSION /)
    c.send('touch a soon\r\ngat soon a\r\n')
    expect(await c.line()).toBe('CLIENT_ERROR invalid exptime argument')
    expect(await c.line()).toBe('CLIENT_ERROR invalid exptime argument')
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'bad-request' })).toBe(7)
  })

  it('an unreadable length closes the connection: the value must not be read as commands', async () => {
    c.send('set a 0 0 5x\r\ndelete b\r\n')
    expect(await c.line()).toBe('CLIENT_ERROR bad command line format')
    await c.waitClosed()
    await stillServes()
  })

  it('a value longer than announced: CLIENT_ERROR bad data chunk and close', async () => {
    c.send('set a 0 0 3\r\nhello\r\n')
    expect(await c.line()).toBe('CLIENT_ERROR bad data chunk')
    await c.waitClosed()
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'bad-data-chunk' })).toBe(1)
    const d = await RawConnection.open(ep.port)
    d.send('set a 0 0 5\r\nhelloXY')
    expect(await d.line()).toBe('CLIENT_ERROR bad data chunk')
    await d.waitClosed()
    c.send('')
    await stillServes()
  })

  it('keys too long or with control characters are refused', async () => {
    const long = 'k'.repeat(251)
    c.send(
      `set ${long} 0 0 5\r\nhello\r\nget ${long}\r\nget ok ${long}\r\ndelete ${long}\r\ntouch ${long} 1\r\n`,
    )
    for (let i = 0; i < 5; i++) expect(await c.line()).toBe('CLIENT_ERROR bad command line format')
    c.send('get a\x01b\r\nset a\tb 0 0 1\r\nx\r\nversion\r\n')
    expect(await c.line()).toBe('CLIENT_ERROR bad command line format')
    expect(await c.line()).toBe('CLIENT_ERROR bad command line format')
    expect(await c.line()).toMatch(/^VERSION /)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'bad-key' })).toBe(7)
  })

  it('a value over maxValueBytes: SERVER_ERROR, the bytes swallowed, the old value dropped', async () => {
    await set('a', 'old')
    const big = 'x'.repeat(16 * 1024 + 1)
    c.send(`set a 0 0 ${big.length}\r\n${big}\r\nget a\r\n`)
    expect(await c.line()).toBe('SERVER_ERROR object too large for cache')
    expect(await c.retrieval()).toBe('END\r\n')
    const fits = 'y'.repeat(16 * 1024)
    c.send(`set b 0 0 ${fits.length}\r\n${fits}\r\n`)
    expect(await c.line()).toBe('STORED')
    // Appending past the cap is refused the same way.
    c.send('append b 0 0 1\r\nz\r\n')
    expect(await c.line()).toBe('SERVER_ERROR object too large for cache')
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'value-too-large' })).toBe(2)
  })

  it('a line over maxLineBytes: CLIENT_ERROR line too long and close, with or without a newline', async () => {
    c.send(`get ${'a'.repeat(9000)}`)
    expect(await c.line()).toBe('CLIENT_ERROR line too long')
    await c.waitClosed()
    const d = await RawConnection.open(ep.port)
    d.send(`get ${'a '.repeat(4500)}\r\n`)
    expect(await d.line()).toBe('CLIENT_ERROR line too long')
    await d.waitClosed()
    await stillServes()
  })
})
