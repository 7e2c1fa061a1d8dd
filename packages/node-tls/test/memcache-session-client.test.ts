import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMemcacheSessionClient, type MemcacheSessionClient } from '../src/memcache-session-client.ts'

/**
 * A daemon on a unix socket whose replies each test scripts: `answer` gets every get line and returns
 * the reply, if any; with `oneByteWrites` each byte of a reply goes out in a write of its own.
 */
interface Daemon {
  path: string
  received: string
  connections: number
  sockets: Socket[]
  answer: (line: string) => string | undefined
  oneByteWrites: boolean
}

let dir: string
let server: Server
let daemon: Daemon
let client: MemcacheSessionClient | undefined

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tlsmesh-memcache-client-'))
  daemon = {
    path: join(dir, 'd.sock'),
    received: '',
    connections: 0,
    sockets: [],
    answer: () => undefined,
    oneByteWrites: false,
  }
  server = createServer((socket) => {
    daemon.connections++
    daemon.sockets.push(socket)
    let pending = ''
    let replies = Promise.resolve()
    socket.on('data', (chunk) => {
      daemon.received += chunk.toString('latin1')
      pending += chunk.toString('latin1')
      for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
        const line = pending.slice(0, end)
        pending = pending.slice(end + 2)
        const reply = line.startsWith('get ') ? daemon.answer(line) : undefined
        if (reply === undefined) continue
        if (!daemon.oneByteWrites) socket.write(reply, 'latin1')
        else replies = replies.then(() => oneByteAtATime(socket, reply))
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(daemon.path, resolve))
})

afterEach(async () => {
  client?.close()
  client = undefined
  for (const socket of daemon.sockets) socket.destroy()
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

async function oneByteAtATime(socket: Socket, reply: string): Promise<void> {
  for (const byte of reply) {
    await new Promise((resolve) => socket.write(byte, 'latin1', () => setTimeout(resolve, 1)))
  }
}

async function connected(init: Partial<Parameters<typeof createMemcacheSessionClient>[0]> = {}) {
  client = createMemcacheSessionClient({ socketPath: daemon.path, reconnectDelayMs: 20, ...init })
  await until(() => daemon.connections > 0)
  await new Promise((resolve) => setTimeout(resolve, 20))
  return client
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  expect(condition()).toBe(true)
}

const id = new Uint8Array([0xab, 0x01])
const value = Buffer.from('session\r\nbytes')
const valueReply = `VALUE tls:ab01 0 ${value.byteLength}\r\n${value.toString('latin1')}\r\nEND\r\n`
const signal = () => AbortSignal.timeout(2000)

describe('memcached session client', () => {
  it('sends the stores and lookups of one turn in order, each a well-formed command', async () => {
    const c = await connected()
    daemon.answer = () => 'END\r\n'
    c.store(id, value, 299_001)
    c.store(new Uint8Array([2]), new Uint8Array(0), 10)
    expect(await c.fetch(id, { signal: signal() })).toBeUndefined()
    expect(daemon.received).toBe(
      `set tls:ab01 0 300 ${value.byteLength} noreply\r\nsession\r\nbytes\r\nset tls:02 0 1 0 noreply\r\n\r\nget tls:ab01\r\n`,
    )
  })

  it('reads a value however the daemon splits its reply, and answers lookups in order', async () => {
    const c = await connected()
    daemon.oneByteWrites = true
    daemon.answer = (line) => (line === 'get tls:ab01' ? valueReply : 'END\r\n')
    const [hit, miss, again] = await Promise.all([
      c.fetch(id, { signal: signal() }),
      c.fetch(new Uint8Array([3]), { signal: signal() }),
      c.fetch(id, { signal: signal() }),
    ])
    expect(Buffer.from(hit!).equals(value)).toBe(true)
    expect(miss).toBeUndefined()
    expect(Buffer.from(again!).equals(value)).toBe(true)
    expect(c.stats).toMatchObject({ gets: 3, hits: 2, misses: 1, timeouts: 0 })
  })

  it.each([
    ['a negative length', 'VALUE tls:ab01 0 -5\r\n'],
    ['a length that is not a number', 'VALUE tls:ab01 0 x\r\n'],
    ['a value not followed by END', 'VALUE tls:ab01 0 2\r\nhi\r\nVALUE\r\n'],
  ])(
    'drops a daemon that sends %s: the lookup is a miss, and the client reconnects',
    async (_name, reply) => {
      const c = await connected()
      daemon.answer = () => reply
      expect(await c.fetch(id, { signal: signal() })).toBeUndefined()
      await until(() => daemon.connections === 2)
      expect(c.stats).toMatchObject({ reconnects: 1, hits: 0 })
      // Serving on: the new connection answers.
      daemon.answer = () => valueReply
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(Buffer.from((await c.fetch(id, { signal: signal() }))!).equals(value)).toBe(true)
    },
  )

  it('answers a lookup the daemon leaves unanswered as a miss when its signal fires, and drops a hung daemon', async () => {
    const c = await connected({ hungAfterMs: 50 })
    expect(await c.fetch(id, { signal: AbortSignal.timeout(30) })).toBeUndefined()
    expect(c.stats.timeouts).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 60))
    // The next request finds the oldest answer overdue: the connection goes, and a new one comes.
    c.store(id, value, 1000)
    await until(() => daemon.connections === 2)
  })

  it('drops stores, counted, while a daemon that stopped reading holds more than the bound', async () => {
    const c = await connected({ maxBufferedBytes: 64 * 1024 })
    // The daemon stops reading: the kernel's buffers fill, then the client's.
    for (const socket of daemon.sockets) socket.pause()
    const big = new Uint8Array(16 * 1024)
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 40; i++) c.store(id, big, 1000)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(c.stats.dropped).toBeGreaterThan(0)
    expect(c.stats.stores + c.stats.dropped).toBe(800)
    expect(c.stats.stores * big.byteLength).toBeLessThan(12 * 1024 * 1024)
  })
})
