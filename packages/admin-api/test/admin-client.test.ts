// The admin client against whatever may listen on the admin address: tlsmeshd, nothing, or a
// program that stalls, errs, lies or floods. Each ends in a DaemonUnreachableError with its reason
// (the CLI's exit code and its watch view's column come from it), within the deadline.
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DaemonUnreachableError, fetchAdminJson } from '../src/admin-client.ts'
import { ADMIN_API_VERSION } from '../src/contract.ts'
import { AdminApiVersionError, fetchPeers, fetchStatus } from '../src/fetch-documents.ts'

let server: Server | undefined
afterEach(() => {
  server?.closeAllConnections()
  server?.close()
  server = undefined
})

async function serve(handler: (res: ServerResponse) => void): Promise<string> {
  server = createServer((_req, res) => handler(res))
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DaemonUnreachableError)
  return (err as DaemonUnreachableError).reason
}

describe('fetchAdminJson', () => {
  it('returns the JSON document tlsmeshd serves', async () => {
    const admin = await serve((res) => res.end('{"node":"x","peers":[]}'))
    expect(await fetchAdminJson(admin, '/status')).toEqual({ node: 'x', peers: [] })
  })

  it('says refused when nothing listens', async () => {
    const admin = await serve((res) => res.end())
    server!.close()
    expect(await reasonOf(fetchAdminJson(admin, '/status'))).toBe('refused')
  })

  it('gives up on a listener that never answers, at the deadline', async () => {
    const admin = await serve(() => undefined)
    const started = performance.now()
    expect(await reasonOf(fetchAdminJson(admin, '/status', 200))).toBe('timeout')
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('gives up on an answer that trickles past the deadline', async () => {
    const admin = await serve((res) => {
      res.write('{"node":')
      const drip = setInterval(() => res.write(' '), 20)
      res.on('close', () => clearInterval(drip))
    })
    expect(await reasonOf(fetchAdminJson(admin, '/status', 300))).toBe('timeout')
  })

  it('refuses an error status, a body that is not JSON, and one over the size bound', async () => {
    const failing = await serve((res) => {
      res.statusCode = 500
      res.end('{}')
    })
    expect(await reasonOf(fetchAdminJson(failing, '/status'))).toBe('http-error')
    server!.close()
    const garbled = await serve((res) => res.end('<html>not tlsmeshd</html>'))
    expect(await reasonOf(fetchAdminJson(garbled, '/status'))).toBe('bad-answer')
    server!.close()
    const flood = await serve((res) => {
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return
      }
      res.on('drain', pump)
      pump()
    })
    expect(await reasonOf(fetchAdminJson(flood, '/status', 5000, 1024 * 1024))).toBe('bad-answer')
  })
})

describe('fetchStatus and fetchPeers', () => {
  it('return a document of this version', async () => {
    const admin = await serve((res) => res.end(JSON.stringify({ schema: ADMIN_API_VERSION, peers: [] })))
    expect(await fetchStatus(admin)).toEqual({ schema: ADMIN_API_VERSION, peers: [] })
    expect(await fetchPeers(admin)).toEqual({ schema: ADMIN_API_VERSION, peers: [] })
  })

  it('refuse a document of another version, or of none, as reachable but unreadable', async () => {
    for (const body of [{ schema: ADMIN_API_VERSION + 1 }, { node: 'x' }, null]) {
      const admin = await serve((res) => res.end(JSON.stringify(body)))
      const err = await fetchStatus(admin).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(AdminApiVersionError)
      expect(err).not.toBeInstanceOf(DaemonUnreachableError)
      expect((err as Error).message).toMatch(
        /answered \/status (in admin API version 2|without a schema); this client reads version 1$/,
      )
      server!.close()
    }
  })

  it('keep the unreachable reasons of fetchAdminJson', async () => {
    const admin = await serve(() => undefined)
    expect(await reasonOf(fetchPeers(admin, 200))).toBe('timeout')
  })
})
