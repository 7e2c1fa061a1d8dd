import { createConnection } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { type Endpoint, startEndpoint } from './endpoint-fixture.ts'
import { binaryRequest, binaryResponse, Op, RawConnection } from './raw-clients.ts'

let ep: Endpoint | undefined
const open: RawConnection[] = []

async function connect(target?: number | string): Promise<RawConnection> {
  const conn = await RawConnection.open(target ?? ep!.port)
  open.push(conn)
  return conn
}

afterEach(async () => {
  for (const conn of open.splice(0)) conn.close()
  await ep?.close()
  ep = undefined
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A fresh client gets a full set/get round trip, quickly. */
async function stillServes(): Promise<void> {
  const started = Date.now()
  const other = await connect()
  other.send('set probe 0 0 2\r\nok\r\nget probe\r\n')
  expect(await other.line()).toBe('STORED')
  expect(await other.retrieval()).toBe('VALUE probe 0 2\r\nok\r\nEND\r\n')
  expect(Date.now() - started).toBeLessThan(500)
  other.close()
}

describe('connections', () => {
  it('closes a connection silent for idleTimeoutMs, in either protocol or before any byte', async () => {
    ep = await startEndpoint({ init: { idleTimeoutMs: 100 } })
    const silent = await connect()
    const text = await connect()
    text.send('get a\r\n')
    expect(await text.retrieval()).toBe('END\r\n')
    const binary = await connect()
    binary.send(binaryRequest({ opcode: Op.noop }))
    expect((await binaryResponse(binary)).status).toBe(0)
    // Half a command is not activity enough to hold the slot forever.
    const partial = await connect()
    partial.send('set a 0 0 10\r\nabc')
    const started = Date.now()
    await Promise.all([silent, text, binary, partial].map((conn) => conn.waitClosed(1000)))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'idle-timeout' })).toBe(4)
    await stillServes()
  })

  it('a slow sender does not hold up other clients', async () => {
    ep = await startEndpoint()
    const slow = await connect()
    slow.socket.setNoDelay(true)
    const script = `set slow 0 0 100\r\n${'s'.repeat(100)}\r\n`
    const trickle = (async () => {
      for (const byte of Buffer.from(script)) {
        slow.send(Buffer.from([byte]))
        await sleep(1)
      }
    })()
    // Meanwhile, others get answers at once.
    for (let i = 0; i < 20; i++) await stillServes()
    await trickle
    expect(await slow.line()).toBe('STORED')
  })

  it('serves a few hundred concurrent clients, both protocols', async () => {
    ep = await startEndpoint()
    const clients = await Promise.all(Array.from({ length: 300 }, () => connect()))
    await Promise.all(
      clients.map(async (conn, i) => {
        if (i % 2 === 0) {
          conn.send(`set k${i} 0 0 ${String(i).length}\r\n${i}\r\nget k${i}\r\n`)
          expect(await conn.line(5000)).toBe('STORED')
          expect(await conn.retrieval(5000)).toBe(`VALUE k${i} 0 ${String(i).length}\r\n${i}\r\nEND\r\n`)
        } else {
          conn.send(binaryRequest({ opcode: Op.get, key: `k${i - 1}` }))
          const res = await binaryResponse(conn, 5000)
          expect([0, 1]).toContain(res.status)
        }
      }),
    )
    expect(await ep.metric('tlsmesh_memcache_connections')).toBe(300)
    for (const conn of open.splice(0)) conn.close()
    await expect.poll(() => ep!.metric('tlsmesh_memcache_connections')).toBe(0)
  })

  it('beyond maxTcpConnections, new connections are closed at once and counted; old ones keep working', async () => {
    ep = await startEndpoint({ init: { maxTcpConnections: 50 } })
    const attempts = await Promise.all(Array.from({ length: 250 }, () => connect()))
    const refusedAtOnce = await Promise.all(
      attempts.map((conn) =>
        conn.waitClosed(300).then(
          () => true,
          () => false,
        ),
      ),
    )
    expect(refusedAtOnce.filter(Boolean).length).toBe(200)
    expect(
      await ep.metric('tlsmesh_memcache_connections_refused_total', {
        listener: 'tcp',
        reason: 'connection-limit',
      }),
    ).toBe(200)
    const kept = attempts.filter((_, i) => !refusedAtOnce[i])
    expect(kept.length).toBe(50)
    for (const conn of kept) conn.send('version\r\n')
    for (const conn of kept) expect(await conn.line()).toMatch(/^VERSION /)
    // Once a slot frees, a new client gets in.
    kept[0]!.close()
    await expect.poll(() => ep!.metric('tlsmesh_memcache_connections')).toBe(49)
    await stillServes()
  })

  it('a client that does not read its replies is paused, not buffered without bound', async () => {
    ep = await startEndpoint()
    const value = 'v'.repeat(16 * 1024)
    const writer = await connect()
    writer.send(`set big 0 0 ${value.length}\r\n${value}\r\n`)
    expect(await writer.line()).toBe('STORED')
    // 3,000 gets of 16 KiB: 48 MiB of replies this client does not read for now.
    const greedy = createConnection({ host: '127.0.0.1', port: ep.port })
    await new Promise((resolve) => greedy.once('connect', resolve))
    greedy.pause()
    greedy.write('get big\r\n'.repeat(3000))
    await sleep(200)
    // The server stopped after about 1 MiB of unread replies (plus what the kernel buffers).
    const served = await ep.metric('tlsmesh_memcache_commands_total', { command: 'get', protocol: 'text' })
    expect(served).toBeLessThan(1500)
    await stillServes()
    const reply = Buffer.from(`VALUE big 0 ${value.length}\r\n${value}\r\nEND\r\n`)
    const expected = reply.length * 3000
    let received = 0
    let head = Buffer.alloc(0)
    let tail = Buffer.alloc(0)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received} of ${expected}`)), 10_000)
      greedy.on('data', (chunk: Buffer) => {
        if (head.length < reply.length) head = Buffer.concat([head, chunk]).subarray(0, reply.length)
        tail = Buffer.concat([tail, chunk]).subarray(-reply.length)
        received += chunk.length
        if (received >= expected) {
          clearTimeout(timer)
          resolve()
        }
      })
      greedy.resume()
    })
    greedy.destroy()
    expect(received).toBe(expected)
    expect(head.equals(reply)).toBe(true)
    expect(tail.equals(reply)).toBe(true)
  })

  it('stop() stops accepting and closes client connections', async () => {
    ep = await startEndpoint()
    const clients = await Promise.all([connect(), connect()])
    clients[0]!.send('version\r\n')
    expect(await clients[0]!.line()).toMatch(/^VERSION /)
    await ep.server.stop()
    await Promise.all(clients.map((conn) => conn.waitClosed()))
    await expect(RawConnection.open(ep.port)).rejects.toThrow()
    await ep.server.stop()
  })
})

describe('random bytes from a real client', () => {
  it('never take the server down: each connection gets replies or a close, others are served', async () => {
    ep = await startEndpoint({ init: { maxLineBytes: 1024 } })
    const endpoint = ep
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 2000 }),
          fc
            .tuple(
              fc.constantFrom('get ', 'set k 0 0 4\r\n', 'gat 1 ', 'delete k', '\x80\x00'),
              fc.uint8Array(),
            )
            .map(([head, tail]) => Buffer.concat([Buffer.from(head, 'latin1'), tail])),
        ),
        async (bytes) => {
          const conn = await RawConnection.open(endpoint.port)
          conn.send(bytes)
          // Having said everything, the client shuts its side: the server must answer what was
          // complete and close, never hang waiting.
          conn.socket.end()
          await conn.waitClosed(2000)
        },
      ),
      { numRuns: 150 },
    )
    expect(await endpoint.metric('tlsmesh_memcache_errors_total', { reason: 'internal' })).toBe(0)
    await stillServes()
  })
})
