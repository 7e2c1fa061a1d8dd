import { constants } from 'node:crypto'
import type * as tls from 'node:tls'
import { createReplicaStore, LocalSessionCache, type SessionCache } from '@tlsmesh/store'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AttachedSessionCache,
  type AttachSessionCacheInit,
  attachSessionCache,
  sessionResumptionOptions,
} from '../src/attach-session-cache.ts'
import type { RemoteSessionCache } from '../src/remote-session-cache.ts'
import { type Credentials, close, handshake, listen, makeCredentials, waitFor } from './tls-fixtures.ts'

const REALM = 'www'
const TLS12 = { maxVersion: 'TLSv1.2' } as const

let creds: Credentials
const servers: tls.Server[] = []

beforeAll(() => {
  creds = makeCredentials()
})
afterAll(async () => {
  await Promise.all(servers.map(close))
})

function sharedCache(): LocalSessionCache {
  return new LocalSessionCache({ store: createReplicaStore({ realms: [REALM] }) })
}

/** A server of the fleet: the fleet-wide resumption options and the given cache attached. */
async function fleetServer(
  cache: SessionCache | RemoteSessionCache,
  init: AttachSessionCacheInit = { realm: REALM },
  sessionIdContext = 'fleet',
): Promise<{ port: number; attached: AttachedSessionCache }> {
  const { server, port } = await listen({ ...creds, ...sessionResumptionOptions({ sessionIdContext }) })
  servers.push(server)
  return { port, attached: attachSessionCache(server, cache, init) }
}

describe('attachSessionCache', () => {
  it('resumes on one server a TLS 1.2 session made on another through a shared cache', async () => {
    const cache = sharedCache()
    const one = await fleetServer(cache)
    const two = await fleetServer(cache)

    const first = await handshake(one.port, creds.cert, TLS12)
    expect(first).toMatchObject({ protocol: 'TLSv1.2', reused: false })
    expect(one.attached.stats).toMatchObject({ lookups: 0, stored: 1, skippedTls13: 0, errors: 0 })

    const second = await handshake(two.port, creds.cert, { ...TLS12, session: first.session! })
    expect(second.reused).toBe(true)
    expect(two.attached.stats).toEqual({
      lookups: 1,
      hits: 1,
      misses: 0,
      stored: 0,
      skippedTls13: 0,
      errors: 0,
      timeouts: 0,
    })
  })

  it('falls back to a full handshake, counted as a miss, for a session the cache does not hold', async () => {
    const elsewhere = await fleetServer(sharedCache())
    const here = await fleetServer(sharedCache())
    const { session } = await handshake(elsewhere.port, creds.cert, TLS12)

    const result = await handshake(here.port, creds.cert, { ...TLS12, session: session! })
    expect(result.reused).toBe(false)
    expect(here.attached.stats).toMatchObject({ lookups: 1, hits: 0, misses: 1, stored: 1, errors: 0 })

    // The new session is stored, and resumes next time.
    const again = await handshake(here.port, creds.cert, { ...TLS12, session: result.session! })
    expect(again.reused).toBe(true)
    expect(here.attached.stats).toMatchObject({ lookups: 2, hits: 1, misses: 1 })
  })

  it('keeps realms apart: a server of another realm does not resume the session', async () => {
    const cache = new LocalSessionCache({ store: createReplicaStore({ realms: [REALM, 'api'] }) })
    const www = await fleetServer(cache, { realm: REALM })
    const api = await fleetServer(cache, { realm: 'api' })
    const { session } = await handshake(www.port, creds.cert, TLS12)
    expect((await handshake(api.port, creds.cert, { ...TLS12, session: session! })).reused).toBe(false)
    expect(api.attached.stats).toMatchObject({ lookups: 1, hits: 0, misses: 1 })
  })

  it('does not store TLS 1.3 sessions, which clients never offer back', async () => {
    const cache = sharedCache()
    const { port, attached } = await fleetServer(cache)
    const result = await handshake(port, creds.cert, { minVersion: 'TLSv1.3' })
    expect(result.protocol).toBe('TLSv1.3')
    await waitFor('the TLS 1.3 sessions to be reported', () => attached.stats.skippedTls13 > 0)
    expect(attached.stats).toMatchObject({ stored: 0, errors: 0 })
    expect(cache.get(REALM, Buffer.from('anything'))).toBeUndefined()
  })

  it('completes the handshake in full when the cache throws, and counts the error', async () => {
    const failure = new Error('cache is broken')
    const broken: SessionCache = {
      get: () => {
        throw failure
      },
      set: () => {
        throw failure
      },
      delete: () => false,
      touch: () => false,
    }
    const errors: unknown[] = []
    const source = await fleetServer(sharedCache())
    const { port, attached } = await fleetServer(broken, { realm: REALM, onError: (err) => errors.push(err) })
    const { session } = await handshake(source.port, creds.cert, TLS12)

    const result = await handshake(port, creds.cert, { ...TLS12, session: session! })
    expect(result).toMatchObject({ protocol: 'TLSv1.2', reused: false })
    // One failed lookup (a miss) and one failed store.
    expect(attached.stats).toMatchObject({ lookups: 1, hits: 0, misses: 1, stored: 0, errors: 2 })
    expect(errors).toEqual([failure, failure])
  })

  it('needs one sessionIdContext fleet-wide: a different one refuses the session despite the hit', async () => {
    const cache = sharedCache()
    const one = await fleetServer(cache, { realm: REALM }, 'fleet-a')
    const two = await fleetServer(cache, { realm: REALM }, 'fleet-b')
    const { session } = await handshake(one.port, creds.cert, TLS12)
    expect((await handshake(two.port, creds.cert, { ...TLS12, session: session! })).reused).toBe(false)
    expect(two.attached.stats).toMatchObject({ lookups: 1, hits: 1 })
  })

  it('detach() stops serving and counting', async () => {
    const cache = sharedCache()
    const one = await fleetServer(cache)
    const two = await fleetServer(cache)
    const { session } = await handshake(one.port, creds.cert, TLS12)
    two.attached.detach()
    expect((await handshake(two.port, creds.cert, { ...TLS12, session: session! })).reused).toBe(false)
    expect(two.attached.stats).toMatchObject({ lookups: 0, stored: 0 })
  })
})

describe('attachSessionCache with a remote cache (another process)', () => {
  /** A remote cache at the process edge: answers from a shared local cache, or as `fetch` says. */
  function remote(
    fetch: RemoteSessionCache['fetch'],
    backing = sharedCache(),
  ): RemoteSessionCache & { stored: number } {
    const cache = {
      stored: 0,
      fetch,
      store(id: Uint8Array, value: Uint8Array, ttlMs: number) {
        cache.stored++
        backing.set(REALM, id, value, ttlMs)
      },
    }
    return cache
  }

  it('resumes from a remote cache that answers in time', async () => {
    const backing = sharedCache()
    const cache = remote(async (id) => backing.get(REALM, id)?.value, backing)
    const one = await fleetServer(cache)
    const two = await fleetServer(cache)
    const { session } = await handshake(one.port, creds.cert, TLS12)
    expect(cache.stored).toBe(1)
    expect((await handshake(two.port, creds.cert, { ...TLS12, session: session! })).reused).toBe(true)
    expect(two.attached.stats).toMatchObject({ lookups: 1, hits: 1, timeouts: 0, errors: 0 })
  })

  it('does not let a remote cache that never answers hold the handshake past the deadline', async () => {
    let aborted = false
    const hung = remote(
      (_id, { signal }) =>
        new Promise(() => {
          signal.addEventListener('abort', () => {
            aborted = true
          })
        }),
    )
    const source = await fleetServer(sharedCache())
    const { port, attached } = await fleetServer(hung, { realm: REALM, lookupTimeoutMs: 30 })
    const { session } = await handshake(source.port, creds.cert, TLS12)

    const started = performance.now()
    const result = await handshake(port, creds.cert, { ...TLS12, session: session! })
    expect(result).toMatchObject({ protocol: 'TLSv1.2', reused: false })
    expect(performance.now() - started).toBeLessThan(1000)
    expect(aborted).toBe(true)
    expect(attached.stats).toMatchObject({ lookups: 1, misses: 1, timeouts: 1, errors: 0, stored: 1 })
  })

  it('goes on with a full handshake when a remote lookup fails, and counts the error', async () => {
    const errors: unknown[] = []
    const failing = remote(async () => {
      throw new Error('connection refused')
    })
    const source = await fleetServer(sharedCache())
    const { port, attached } = await fleetServer(failing, { realm: REALM, onError: (e) => errors.push(e) })
    const { session } = await handshake(source.port, creds.cert, TLS12)
    expect((await handshake(port, creds.cert, { ...TLS12, session: session! })).reused).toBe(false)
    expect(attached.stats).toMatchObject({ lookups: 1, misses: 1, timeouts: 0, errors: 1 })
    expect(errors).toHaveLength(1)
  })
})

describe('sessionResumptionOptions', () => {
  it('turns tickets off and keeps the caller’s other options', () => {
    const options = sessionResumptionOptions({
      sessionIdContext: 'www',
      secureOptions: constants.SSL_OP_NO_COMPRESSION,
    })
    expect(options.sessionIdContext).toBe('www')
    expect(options.secureOptions & constants.SSL_OP_NO_TICKET).toBe(constants.SSL_OP_NO_TICKET)
    expect(options.secureOptions & constants.SSL_OP_NO_COMPRESSION).toBe(constants.SSL_OP_NO_COMPRESSION)
  })

  it('refuses a sessionIdContext OpenSSL would not take', () => {
    expect(() => sessionResumptionOptions({ sessionIdContext: '' })).toThrow(/sessionIdContext/)
    expect(() => sessionResumptionOptions({ sessionIdContext: 'x'.repeat(33) })).toThrow(RangeError)
    expect(sessionResumptionOptions({ sessionIdContext: 'x'.repeat(32) }).sessionIdContext).toHaveLength(32)
  })
})
