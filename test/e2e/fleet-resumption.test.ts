// Three HTTPS server processes, each with an embedded mesh node, on loopback: a TLS 1.2 session made
// on one server resumes on the others, checked with Node's TLS client and with openssl s_client.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { promisify } from 'node:util'
import { generateMeshKey } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createFleetFiles,
  type Fleet,
  type FleetFiles,
  type FleetServer,
  startFleet,
  startFleetServer,
} from '../../scripts/fleet/fleet.ts'

const run = promisify(execFile)

function handshake(port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
      ...(session !== undefined ? { session } : {}),
    })
    socket.once('secureConnect', () => {
      const result = { reused: socket.isSessionReused(), session: socket.getSession()! }
      socket.end()
      resolve(result)
    })
    socket.once('error', reject)
  })
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Waits until `server`'s replica holds at least `entries` records. */
function replicaHolds(server: FleetServer, entries: number): Promise<true> {
  return until(`${entries} records on port ${server.port}`, async () =>
    ((await server.status()).mesh?.replica.entries ?? 0) >= entries ? true : undefined,
  )
}

describe('a fleet of three HTTPS servers with tlsmesh', () => {
  let files: FleetFiles
  let fleet: Fleet
  let outsider: FleetServer

  beforeAll(async () => {
    files = createFleetFiles()
    fleet = await startFleet({ mode: 'mesh', servers: 3, files })
    // Same fleet, same certificate, but another mesh key: it must stay outside.
    // In the fleet's temp dir, removed with it.
    const otherKeyFile = join(files.dir, 'other-mesh.key')
    writeFileSync(otherKeyFile, generateMeshKey(), { mode: 0o600 })
    outsider = await startFleetServer({
      mode: 'mesh',
      port: 0,
      certFile: files.certFile,
      keyFile: files.keyFile,
      meshKeyFile: otherKeyFile,
      seeds: fleet.servers[0]!.multiaddrs,
      realm: 'demo',
      sessionIdContext: 'tlsmesh-demo',
    })
  })

  afterAll(async () => {
    await outsider?.stop()
    await fleet?.stop()
    files?.remove()
  })

  it('forms one gossip mesh although two nodes were only given the first as a seed', async () => {
    await fleet.waitForMesh(15_000)
    const statuses = await fleet.status()
    for (const status of statuses) {
      expect(status.mesh?.connectedPeers).toBeGreaterThanOrEqual(2)
      expect(status.mesh?.realms.demo?.meshPeers).toBe(2)
    }
  })

  it('resumes a session made on server A on servers B and C (Node TLS client)', async () => {
    const [a, b, c] = fleet.servers as [FleetServer, FleetServer, FleetServer]
    const before = (await b.status()).mesh?.replica.entries ?? 0
    const first = await handshake(a.port)
    expect(first.reused).toBe(false)
    await replicaHolds(b, before + 1)
    await replicaHolds(c, before + 1)
    expect((await handshake(b.port, first.session)).reused).toBe(true)
    expect((await handshake(c.port, first.session)).reused).toBe(true)
    // And the origin itself still resumes it.
    expect((await handshake(a.port, first.session)).reused).toBe(true)
  })

  it('resumes a session made on server B on A and C (openssl s_client -sess_out / -sess_in)', async () => {
    const [a, b, c] = fleet.servers as [FleetServer, FleetServer, FleetServer]
    const sessionFile = join(files.dir, 'openssl.session')
    const sClient = (port: number, ...extra: string[]) => {
      const args = [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-servername',
        'localhost',
        '-tls1_2',
        ...extra,
      ]
      const pending = run('openssl', args, { timeout: 10_000 })
      // End of input: s_client closes the connection once the handshake is done.
      pending.child.stdin?.end()
      return pending
    }
    const before = (await a.status()).mesh?.replica.entries ?? 0
    const made = await sClient(b.port, '-sess_out', sessionFile)
    expect(made.stdout).toContain('New, TLSv1.2')
    await replicaHolds(a, before + 1)
    await replicaHolds(c, before + 1)
    for (const server of [a, c]) {
      const resumed = await sClient(server.port, '-sess_in', sessionFile)
      expect(resumed.stdout).toContain('Reused, TLSv1.2')
    }
  })

  it('a node with another mesh key neither connects nor receives anything', async () => {
    const outsiderStatus = (await outsider.status()).mesh!
    expect(outsiderStatus.connectedPeers).toBe(0)
    expect(outsiderStatus.replica.entries).toBe(0)
    for (const status of await fleet.status()) {
      expect(status.mesh?.peers).not.toContain(outsiderStatus.peerId)
    }
    // A session made on the outsider's own server does not reach the fleet either.
    const own = await handshake(outsider.port)
    await new Promise((r) => setTimeout(r, 300))
    expect((await handshake(fleet.servers[1]!.port, own.session)).reused).toBe(false)
    expect((await outsider.status()).mesh?.connectedPeers).toBe(0)
  })
})
