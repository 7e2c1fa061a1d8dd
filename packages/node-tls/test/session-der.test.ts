import type * as tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionResumptionOptions } from '../src/attach-session-cache.ts'
import { sessionProtocolVersion, TLS1_3_VERSION } from '../src/session-der.ts'
import { type Credentials, close, handshake, listen, makeCredentials, waitFor } from './tls-fixtures.ts'

const TLS1_2_VERSION = 0x0303

let creds: Credentials
let server: tls.Server
let port: number
/** What the server's newSession reported, in order. */
const serverSessions: Buffer[] = []

beforeAll(async () => {
  creds = makeCredentials()
  // Tickets off, or TLS 1.2 hands out a ticket and never reports a session.
  ;({ server, port } = await listen({ ...creds, ...sessionResumptionOptions({ sessionIdContext: 'der' }) }))
  server.on('newSession', (_id: Buffer, data: Buffer, done: () => void) => {
    serverSessions.push(data)
    done()
  })
})
afterAll(async () => {
  await close(server)
})

describe('sessionProtocolVersion', () => {
  it('reads TLS 1.2 from the sessions of a real TLS 1.2 handshake, on both ends', async () => {
    serverSessions.length = 0
    const { protocol, session } = await handshake(port, creds.cert, { maxVersion: 'TLSv1.2' })
    expect(protocol).toBe('TLSv1.2')
    expect(serverSessions).toHaveLength(1)
    expect(sessionProtocolVersion(serverSessions[0]!)).toBe(TLS1_2_VERSION)
    expect(session).toBeDefined()
    expect(sessionProtocolVersion(session!)).toBe(TLS1_2_VERSION)
  })

  it('reads TLS 1.3 from the sessions of a real TLS 1.3 handshake', async () => {
    serverSessions.length = 0
    const { protocol, session } = await handshake(port, creds.cert, { minVersion: 'TLSv1.3' })
    expect(protocol).toBe('TLSv1.3')
    await waitFor('the server to report its sessions', () => serverSessions.length > 0)
    for (const der of serverSessions) expect(sessionProtocolVersion(der)).toBe(TLS1_3_VERSION)
    expect(sessionProtocolVersion(session!)).toBe(TLS1_3_VERSION)
  })

  it('returns undefined for bytes that are not a session', async () => {
    serverSessions.length = 0
    await handshake(port, creds.cert, { maxVersion: 'TLSv1.2' })
    const der = serverSessions[0]!
    // SEQUENCE header, INTEGER 1 (the structure's version), INTEGER 0x0303 (ssl_version).
    const structureVersion = der.indexOf(Buffer.from([0x02, 0x01, 0x01]))
    expect(der.subarray(structureVersion + 3, structureVersion + 7)).toEqual(Buffer.from([2, 2, 3, 3]))
    const withVersion = (version: number): Buffer => {
      const copy = Buffer.from(der)
      copy[structureVersion + 2] = version
      return copy
    }
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      'too short': der.subarray(0, 7),
      'cut inside ssl_version': der.subarray(0, structureVersion + 6),
      'not a SEQUENCE': Buffer.concat([Buffer.from([0x31]), der.subarray(1)]),
      'another structure version': withVersion(2),
      text: Buffer.from('this is not DER at all'),
      zeros: new Uint8Array(64),
    }
    for (const [name, bytes] of Object.entries(cases)) {
      expect(sessionProtocolVersion(bytes), name).toBeUndefined()
    }
  })
})
