import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMeshKey, InvalidMeshKeyError } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Daemon, startDaemon, VERSION } from '../src/daemon.ts'
import { InvalidOptionError } from '../src/daemon-options.ts'
import { devOptions, silentLogger } from './test-daemon.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlsmeshd-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('startDaemon: the admin endpoint', () => {
  let daemon: Daemon
  let base: string
  beforeAll(async () => {
    daemon = await startDaemon(devOptions({ realms: ['www', 'api'] }), silentLogger)
    base = `http://${daemon.adminAddress.host}:${daemon.adminAddress.port}`
  })
  afterAll(async () => {
    await daemon.stop()
  })

  it('listens on loopback on the port it was given (0: a free one)', () => {
    expect(daemon.adminAddress.host).toBe('127.0.0.1')
    expect(daemon.adminAddress.port).toBeGreaterThan(0)
  })

  it('answers /healthz', async () => {
    const res = await fetch(`${base}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok\n')
  })

  it('answers /status with the node as JSON, and never a session value', async () => {
    daemon.mesh.cache.set('www', Buffer.from('session-1'), Buffer.from('MASTER-SECRET-123'), 60_000)
    const res = await fetch(`${base}/status?verbose=1`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    const text = await res.text()
    expect(text).not.toContain('MASTER-SECRET-123')
    const status = JSON.parse(text)
    expect(status).toMatchObject({
      version: VERSION,
      peerId: daemon.mesh.peerId.toString(),
      meshName: 'default',
      connectedPeers: 0,
      replica: { entries: 1 },
      records: { published: 1 },
    })
    expect(status.listenAddrs).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)])
    expect(Object.keys(status.realms).sort()).toEqual(['api', 'www'])
    expect(status.realms.www).toMatchObject({ entries: 1, meshPeers: 0 })
  })

  it('answers /metrics in the Prometheus text format', async () => {
    const res = await fetch(`${base}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toMatch(/^tlsmesh_mesh_records_published_total \d+$/m)
    expect(text).toMatch(/^tlsmesh_replica_entries \d+$/m)
    expect(text).toContain('tlsmesh_process_')
  })

  it('answers 404 to an unknown path and 405 to anything but GET and HEAD', async () => {
    const missing = await fetch(`${base}/admin`)
    expect(missing.status).toBe(404)
    expect(await missing.text()).toContain('/healthz')
    expect((await fetch(`${base}/status`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${base}/healthz`, { method: 'HEAD' })).status).toBe(200)
  })
})

describe('startDaemon: key files', () => {
  /** chmod after writing: `writeFile`'s mode is cut by the umask. */
  async function keyFile(name: string, mode: number, contents: Uint8Array = generateMeshKey()) {
    const path = join(dir, name)
    await writeFile(path, contents)
    await chmod(path, mode)
    return path
  }
  const tooOpen = (mode: string) =>
    `permissions ${mode} are too open (must not be accessible by group or others; chmod 600)`

  it('refuses a mesh key file group or others may access, naming the setting as it was given', async () => {
    const meshKeyFile = await keyFile('open-mesh.key', 0o644)
    const options = devOptions({ insecureDev: false, meshKeyFile })
    const refusal = (origin: 'flag' | 'env' | 'file') =>
      startDaemon(options, silentLogger, {
        origins: { meshKeyFile: origin },
        configFile: '/etc/tlsmesh/tlsmeshd.yaml',
      })
    await expect(startDaemon(options, silentLogger)).rejects.toThrow(
      new InvalidOptionError(`--mesh-key ${meshKeyFile}: ${tooOpen('0644')}`),
    )
    await expect(refusal('env')).rejects.toThrow(`TLSMESH_MESH_KEY_FILE=${meshKeyFile}: ${tooOpen('0644')}`)
    await expect(refusal('file')).rejects.toThrow(
      `mesh-key-file ${meshKeyFile} (in /etc/tlsmesh/tlsmeshd.yaml): ${tooOpen('0644')}`,
    )
  })

  it('refuses an identity file group or others may access, and leaves it alone', async () => {
    const meshKeyFile = await keyFile('owner-mesh.key', 0o600)
    const identityFile = join(dir, 'open-identity.key')
    const first = await startDaemon(
      devOptions({ insecureDev: false, meshKeyFile, identityFile }),
      silentLogger,
    )
    await first.stop()
    const before = await readFile(identityFile)
    await chmod(identityFile, 0o640)
    const started = startDaemon(devOptions({ insecureDev: false, meshKeyFile, identityFile }), silentLogger)
    await expect(started).rejects.toThrow(
      new InvalidOptionError(`--identity ${identityFile}: ${tooOpen('0640')}`),
    )
    expect(await readFile(identityFile)).toEqual(before)
  })

  it('names the setting when a key file cannot be read', async () => {
    const meshKeyFile = join(dir, 'missing-mesh.key')
    await expect(startDaemon(devOptions({ insecureDev: false, meshKeyFile }), silentLogger)).rejects.toThrow(
      new InvalidOptionError(`--mesh-key ${meshKeyFile}: cannot read it (ENOENT)`),
    )
    const identityFile = join(dir, 'not-a-dir', 'identity.key')
    await writeFile(join(dir, 'not-a-dir'), 'a file where a directory should be')
    await expect(startDaemon(devOptions({ identityFile }), silentLogger)).rejects.toThrow(
      new InvalidOptionError(`--identity ${identityFile}: cannot read or create it (ENOTDIR)`),
    )
  })
})

describe('startDaemon: start and stop', () => {
  it('keeps its peer id across restarts with an identity file, and frees its ports on stop', async () => {
    const meshKeyFile = join(dir, 'mesh.key')
    await writeFile(meshKeyFile, generateMeshKey(), { mode: 0o600 })
    const identityFile = join(dir, 'identity.key')
    const options = devOptions({ insecureDev: false, meshKeyFile, identityFile })

    const first = await startDaemon(options, silentLogger)
    const peerId = first.mesh.peerId.toString()
    const { port } = first.adminAddress
    await first.stop()
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow()

    const second = await startDaemon({ ...options, admin: { host: '127.0.0.1', port } }, silentLogger)
    try {
      expect(second.mesh.peerId.toString()).toBe(peerId)
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    } finally {
      await second.stop()
    }
  })

  it('refuses a mesh key file that is not a mesh key', async () => {
    const meshKeyFile = join(dir, 'not-a-key')
    await writeFile(meshKeyFile, 'hello\n', { mode: 0o600 })
    const started = startDaemon(devOptions({ insecureDev: false, meshKeyFile }), silentLogger)
    await expect(started).rejects.toBeInstanceOf(InvalidMeshKeyError)
  })

  it('fails to start when the admin port is taken', async () => {
    const blocker: Server = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const { port } = blocker.address() as { port: number }
    try {
      const started = startDaemon(devOptions({ admin: { host: '127.0.0.1', port } }), silentLogger)
      await expect(started).rejects.toMatchObject({ code: 'EADDRINUSE' })
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })
})
