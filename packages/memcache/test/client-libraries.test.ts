import { MemcacheClient, type MultiRetrievalResponse } from 'memcache-client'
import memjs from 'memjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Endpoint, startEndpoint } from './endpoint-fixture.ts'

let ep: Endpoint

beforeEach(async () => {
  ep = await startEndpoint()
})

afterEach(async () => {
  await ep.close()
})

/** memjs: the binary protocol as Node servers use it (H2O's default protocol is binary too). */
describe('memjs (binary protocol)', () => {
  let client: memjs.Client
  const silent = { log() {} }

  beforeEach(() => {
    client = memjs.Client.create(`127.0.0.1:${ep.port}`, { logger: silent, timeout: 2, retries: 0 })
  })

  afterEach(() => {
    client.close()
  })

  it('set, get, add, replace, append, delete, touch', async () => {
    const session = Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => (i * 31) & 0xff))
    expect(await client.set('session', session, { expires: 60 })).toBe(true)
    const got = await client.get('session')
    expect(Buffer.compare(got.value!, session)).toBe(0)
    expect(got.flags).toEqual(Buffer.alloc(4))
    expect((await client.get('missing')).value).toBeNull()

    expect(await client.add('session', 'x', {})).toBe(false)
    expect(await client.add('fresh', 'x', {})).toBe(true)
    expect(await client.replace('none', 'x', {})).toBe(false)
    expect(await client.replace('fresh', 'y', {})).toBe(true)
    expect(await client.append('fresh', 'z')).toBe(true)
    // (memjs 1.3.2's prepend sends the APPEND opcode, so it is left to the raw protocol tests.)
    expect((await client.get('fresh')).value?.toString()).toBe('yz')

    expect(await client.touch('fresh', 10)).toBe(true)
    expect(await client.touch('none', 10)).toBe(false)
    ep.clock.now += 11_000
    expect((await client.get('fresh')).value).toBeNull()

    expect(await client.delete('session')).toBe(true)
    expect(await client.delete('session')).toBe(false)
  })

  it('round-trips flags set by a serializer', async () => {
    const flagged = memjs.Client.create(`127.0.0.1:${ep.port}`, {
      logger: silent,
      serializer: {
        serialize: (_opcode: number, value: string | Buffer, extras: Buffer) => {
          extras.writeUInt32BE(0xfeedbeef, 0)
          return { value, extras }
        },
        deserialize: (_opcode: number, value: Buffer | null, extras: Buffer) => ({ value, extras }),
      },
    })
    try {
      expect(await flagged.set('f', 'value', {})).toBe(true)
      const got = await flagged.get('f')
      expect(got.flags?.readUInt32BE(0)).toBe(0xfeedbeef)
      expect(got.value?.toString()).toBe('value')
    } finally {
      flagged.close()
    }
  })

  it('incr/decr and flush are refused with an error, and the client goes on', async () => {
    await expect(client.increment('n', 1, {})).rejects.toThrow()
    await expect(client.decrement('n', 1, {})).rejects.toThrow()
    expect(await client.set('k', 'v', {})).toBe(true)
    expect((await client.get('k')).value?.toString()).toBe('v')
  })
})

/** memcache-client: the text protocol, with its own flags for value types. */
describe('memcache-client (text protocol)', () => {
  let client: MemcacheClient

  beforeEach(() => {
    client = new MemcacheClient({ server: `127.0.0.1:${ep.port}`, cmdTimeout: 2000 })
  })

  afterEach(() => {
    client.shutdown()
  })

  it('stores strings, buffers, numbers and JSON (its flags round-trip)', async () => {
    expect(await client.set('s', 'string')).toEqual(['STORED'])
    expect(await client.set('b', Buffer.from([0, 1, 2, 0xff, 13, 10]))).toEqual(['STORED'])
    expect(await client.set('n', 42)).toEqual(['STORED'])
    expect(await client.set('j', { a: [1, 'two'] })).toEqual(['STORED'])
    expect((await client.get<string>('s')).value).toBe('string')
    expect((await client.get<Buffer>('b')).value).toEqual(Buffer.from([0, 1, 2, 0xff, 13, 10]))
    expect((await client.get<number>('n')).value).toBe(42)
    expect((await client.get<Record<string, unknown>>('j')).value).toEqual({ a: [1, 'two'] })
    const multi = await client.get<MultiRetrievalResponse<unknown>>(['s', 'n', 'missing'])
    expect(Object.keys(multi).sort()).toEqual(['n', 's'])
  })

  it('gets and cas', async () => {
    await client.set('c', 'one')
    const first = await client.gets<string>('c')
    expect(await client.cas('c', 'two', { casUniq: first.casUniq })).toEqual(['STORED'])
    await expect(client.cas('c', 'three', { casUniq: first.casUniq })).rejects.toThrow(/EXISTS/)
    expect((await client.get<string>('c')).value).toBe('two')
  })

  it('add, replace, append, prepend, touch, delete, version', async () => {
    expect(await client.add('a', 'x')).toEqual(['STORED'])
    await expect(client.add('a', 'y')).rejects.toThrow(/NOT_STORED/)
    await expect(client.replace('none', 'y')).rejects.toThrow(/NOT_STORED/)
    expect(await client.replace('a', 'y')).toEqual(['STORED'])
    expect(await client.append('a', 'z')).toEqual(['STORED'])
    expect(await client.prepend('a', 'x')).toEqual(['STORED'])
    expect((await client.get<string>('a')).value).toBe('xyz')
    expect(await client.touch('a', 10)).toEqual(['TOUCHED'])
    ep.clock.now += 11_000
    expect(await client.get('a')).toBeUndefined()
    await client.set('d', 'v')
    expect(await client.delete('d')).toEqual(['DELETED'])
    await expect(client.delete('d')).rejects.toThrow(/NOT_FOUND/)
    expect(await client.version()).toEqual(['VERSION', '1.6.0-tlsmesh-test'])
  })

  it('incr is refused with an error, and the connection goes on', async () => {
    await client.set('n', '1')
    await expect(client.incr('n', 1)).rejects.toThrow(/SERVER_ERROR/)
    expect((await client.get<string>('n')).value).toBe('1')
  })

  it('fire-and-forget (noreply) writes land', async () => {
    await client.set('q', 'quiet', { noreply: true })
    expect((await client.get<string>('q')).value).toBe('quiet')
  })
})
