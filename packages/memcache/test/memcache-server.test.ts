import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createReplicaStore,
  LocalSessionCache,
  type Logger,
  type SessionCache,
  type SessionRecord,
} from '@tlsmesh/store'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemcacheServer,
  type FlushableSessionCache,
  InvalidMemcacheOptionError,
  isLoopbackHost,
  type MemcacheServerInit,
  NotLoopbackError,
  ServerStateError,
  SocketPathInUseError,
} from '../src/index.ts'
import { type Endpoint, startEndpoint } from './endpoint-fixture.ts'
import { binaryRequest, binaryResponse, Op, RawConnection, storeExtras } from './raw-clients.ts'

const dirs: string[] = []
const cleanups: Array<() => Promise<void> | void> = []

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-memcache-'))
  dirs.push(dir)
  return dir
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function newCache(): LocalSessionCache {
  return new LocalSessionCache({ store: createReplicaStore() })
}

async function startError(
  init: Partial<MemcacheServerInit>,
  cache: SessionCache = newCache(),
): Promise<Error> {
  const server = createMemcacheServer({ port: 0, version: 'v', ...init }, { cache })
  cleanups.push(() => server.stop())
  return server.start().then(
    () => {
      throw new Error('started')
    },
    (err: Error) => err,
  )
}

describe('start-up refusals', () => {
  it('recognises loopback hosts', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '127.255.255.254',
      '::1',
      '0:0:0:0:0:0:0:1',
      'localhost',
      'LOCALHOST',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true)
    }
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true)
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '128.0.0.1',
      '::2',
      '::ffff:10.0.0.1',
      'example.com',
      '',
      '127.0.0.1 ',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false)
    }
  })

  it('refuses a host that is not loopback, with a message that says what is allowed', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      const err = await startError({ host })
      expect(err.name).toBe(NotLoopbackError.name)
      expect((err as NotLoopbackError).code).toBe('not-loopback')
      expect(err.message).toContain('loopback')
      expect(err.message).toContain(host)
    }
  })

  it('refuses out-of-range options, naming the field', async () => {
    const cases: Array<[Partial<MemcacheServerInit>, string]> = [
      [{ port: 70000 }, 'port'],
      [{ port: 1.5 }, 'port'],
      [{ maxValueBytes: 0 }, 'maxValueBytes'],
      [{ maxTcpConnections: 0 }, 'maxTcpConnections'],
      [{ maxSocketConnections: 1.5 }, 'maxSocketConnections'],
      [{ idleTimeoutMs: -1 }, 'idleTimeoutMs'],
      [{ firstCommandTimeoutMs: -1 }, 'firstCommandTimeoutMs'],
      [{ allowUids: [] }, 'allowUids'],
      [{ allowUids: [-1] }, 'allowUids'],
      [{ allowUids: [0], host: undefined, port: undefined, socketPath: '/tmp/x.sock' }, 'allowUids'],
      [{ maxLineBytes: 10 }, 'maxLineBytes'],
      [{ socketMode: 0o1777 }, 'socketMode'],
      [{ realm: 'not a realm' }, 'realm'],
      [{ version: 'two words' }, 'version'],
      [{ version: '' }, 'version'],
      [{ socketPath: '' }, 'socketPath'],
      [{ allowFlushAll: true }, 'allowFlushAll'],
    ]
    for (const [init, field] of cases) {
      const err = await startError(init)
      expect(err.name, field).toBe(InvalidMemcacheOptionError.name)
      expect(err.message.startsWith(`${field}:`), err.message).toBe(true)
    }
  })

  it('starts once', async () => {
    const ep = await startEndpoint()
    cleanups.push(() => ep.close())
    await expect(ep.server.start()).rejects.toMatchObject({ name: ServerStateError.name })
  })

  it('reports a port already taken', async () => {
    const ep = await startEndpoint()
    cleanups.push(() => ep.close())
    const err = await startError({ host: '127.0.0.1', port: ep.port })
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE')
  })
})

describe('unix socket', () => {
  it('serves both protocols with owner/group-only permissions, beside TCP', async () => {
    const ep = await startEndpoint({ socket: true })
    cleanups.push(() => ep.close())
    expect(ep.server.addresses()).toEqual([
      { transport: 'tcp', host: '127.0.0.1', port: ep.port },
      { transport: 'unix', path: ep.socketPath },
    ])
    const stat = statSync(ep.socketPath!)
    expect(stat.isSocket()).toBe(true)
    expect(stat.mode & 0o777).toBe(0o660)
    const text = await RawConnection.open(ep.socketPath!)
    const binary = await RawConnection.open(ep.socketPath!)
    cleanups.push(() => text.close())
    cleanups.push(() => binary.close())
    text.send('set a 0 0 1\r\nx\r\n')
    expect(await text.line()).toBe('STORED')
    binary.send(binaryRequest({ opcode: Op.get, key: 'a' }))
    expect((await binaryResponse(binary)).value.toString()).toBe('x')
  })

  it('socket only, with a chosen mode; the file goes away on stop', async () => {
    const path = join(tempDir(), 'only.sock')
    const server = createMemcacheServer(
      { socketPath: path, socketMode: 0o600, version: 'v' },
      { cache: newCache() },
    )
    await server.start()
    expect(server.addresses()).toEqual([{ transport: 'unix', path }])
    expect(statSync(path).mode & 0o777).toBe(0o600)
    await server.stop()
    expect(() => statSync(path)).toThrow()
    expect(server.addresses()).toEqual([])
  })

  it('replaces a stale socket file, refuses a live one and a regular file', async () => {
    const dir = tempDir()
    const stale = join(dir, 'stale.sock')
    // A process killed with SIGKILL leaves its socket file behind.
    const child = spawn(
      process.execPath,
      ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", stale],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise((resolve) => child.stdout.once('data', resolve))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(statSync(stale).isSocket()).toBe(true)
    const server = createMemcacheServer({ socketPath: stale, version: 'v' }, { cache: newCache() })
    cleanups.push(() => server.stop())
    await server.start()
    const conn = await RawConnection.open(stale)
    cleanups.push(() => conn.close())
    conn.send('version\r\n')
    expect(await conn.line()).toBe('VERSION v')

    const live = await startError({ socketPath: stale, port: undefined })
    expect(live.name).toBe(SocketPathInUseError.name)
    expect(live.message).toContain('in use')

    const file = join(dir, 'file.sock')
    writeFileSync(file, 'not a socket')
    const regular = await startError({ socketPath: file })
    expect(regular.name).toBe(SocketPathInUseError.name)
    expect(statSync(file).isFile()).toBe(true)
  })
})

describe('flush_all when allowed', () => {
  /** A stub at the edge: LocalSessionCache has no flush; this one remembers what it was given. */
  class FlushableCache implements FlushableSessionCache {
    readonly inner = newCache()
    readonly ids = new Map<string, Uint8Array>()
    get(realm: string, id: Uint8Array): SessionRecord | undefined {
      return this.inner.get(realm, id)
    }
    set(realm: string, id: Uint8Array, value: Uint8Array, ttlMs: number): SessionRecord {
      this.ids.set(Buffer.from(id).toString('latin1'), id)
      return this.inner.set(realm, id, value, ttlMs)
    }
    delete(realm: string, id: Uint8Array): boolean {
      return this.inner.delete(realm, id)
    }
    touch(realm: string, id: Uint8Array, ttlMs: number): boolean {
      return this.inner.touch(realm, id, ttlMs)
    }
    flush(realm: string): void {
      for (const id of this.ids.values()) this.inner.delete(realm, id)
    }
  }

  it('drops every key, in both protocols; a delay is refused', async () => {
    const ep = await startEndpoint({
      init: { allowFlushAll: true },
      components: { cache: new FlushableCache() },
    })
    cleanups.push(() => ep.close())
    const text = await RawConnection.open(ep.port)
    cleanups.push(() => text.close())
    text.send('set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\nflush_all 10\r\nflush_all 0 noreply\r\nversion\r\n')
    expect(await text.line()).toBe('STORED')
    expect(await text.line()).toBe('OK')
    expect(await text.retrieval()).toBe('END\r\n')
    expect(await text.line()).toBe('SERVER_ERROR flush_all with a delay is not supported')
    expect(await text.line()).toMatch(/^VERSION /)
    const binary = await RawConnection.open(ep.port)
    cleanups.push(() => binary.close())
    binary.send(binaryRequest({ opcode: Op.set, key: 'b', value: 'y', extras: storeExtras(0, 0) }))
    expect((await binaryResponse(binary)).status).toBe(0)
    binary.send(binaryRequest({ opcode: Op.flush }))
    expect((await binaryResponse(binary)).status).toBe(0)
    binary.send(binaryRequest({ opcode: Op.get, key: 'b' }))
    expect((await binaryResponse(binary)).status).toBe(1)
  })
})

describe('observability', () => {
  it('counts commands per protocol, connections, and never logs a key or a value', async () => {
    const logged: unknown[] = []
    const record = (obj: object, msg?: string) => logged.push([obj, msg])
    const logger: Logger = { debug: record, info: record, warn: record, error: record, child: () => logger }
    const ep: Endpoint = await startEndpoint({ components: { logger } })
    cleanups.push(() => ep.close())
    const text = await RawConnection.open(ep.port)
    const binary = await RawConnection.open(ep.port)
    text.send('set secret-key 0 0 12\r\nsecret-value\r\nget secret-key\r\nbogus\r\n')
    expect(await text.line()).toBe('STORED')
    await text.retrieval()
    expect(await text.line()).toBe('ERROR')
    binary.send(binaryRequest({ opcode: Op.get, key: 'secret-key' }))
    await binaryResponse(binary)
    expect(await ep.metric('tlsmesh_memcache_connections')).toBe(2)
    expect(await ep.metric('tlsmesh_memcache_commands_total', { protocol: 'text' })).toBe(3)
    expect(await ep.metric('tlsmesh_memcache_commands_total', { command: 'get', protocol: 'binary' })).toBe(1)
    text.socket.destroy()
    binary.close()
    await expect.poll(() => ep.metric('tlsmesh_memcache_connections')).toBe(0)
    const metrics = await ep.registry.metrics()
    for (const name of [
      'tlsmesh_memcache_commands_total',
      'tlsmesh_memcache_hits_total',
      'tlsmesh_memcache_misses_total',
      'tlsmesh_memcache_errors_total',
      'tlsmesh_memcache_connections',
      'tlsmesh_memcache_connections_refused_total',
    ]) {
      expect(metrics).toContain(`# TYPE ${name} `)
    }
    expect(logged.length).toBeGreaterThan(0)
    const text_ = JSON.stringify(logged)
    expect(text_).not.toContain('secret')
  })

  it('two servers can share a registry (and its metrics)', async () => {
    const registry = new Registry()
    const a = await startEndpoint({ components: { registry } })
    const b = await startEndpoint({ components: { registry }, init: { realm: 'other' } })
    cleanups.push(() => a.close())
    cleanups.push(() => b.close())
    for (const port of [a.port, b.port]) {
      const conn = await RawConnection.open(port)
      conn.send('version\r\n')
      await conn.line()
      conn.close()
    }
    const metric = registry.getSingleMetric('tlsmesh_memcache_commands_total')
    const values = (await metric!.get()).values.filter((v) => v.labels.command === 'version')
    expect(values.find((v) => v.labels.protocol === 'text')?.value).toBe(2)
  })

  it('realms isolate: a key stored through one listener is not seen through another realm', async () => {
    const cache = newCache()
    const a = await startEndpoint({ components: { cache } })
    const b = await startEndpoint({ components: { cache }, init: { realm: 'other' } })
    cleanups.push(() => a.close())
    cleanups.push(() => b.close())
    const ca = await RawConnection.open(a.port)
    const cb = await RawConnection.open(b.port)
    cleanups.push(() => ca.close())
    cleanups.push(() => cb.close())
    ca.send('set k 0 0 1\r\na\r\n')
    expect(await ca.line()).toBe('STORED')
    cb.send('get k\r\n')
    expect(await cb.retrieval()).toBe('END\r\n')
    expect(Buffer.from(cache.get('default', Buffer.from('k'))!.value!).toString()).toBe('a')
  })
})
