import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMeshKey, InvalidMeshKeyError } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { hostRefusal } from '../src/admin-server.ts'
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
    // Node's own metrics under the names stock dashboards query, not under a tlsmesh_ prefix.
    expect(text).toMatch(/^process_cpu_seconds_total \d/m)
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m)
    expect(text).not.toContain('tlsmesh_process_')
  })

  it('answers 404 to an unknown path and 405 to anything but GET and HEAD', async () => {
    const missing = await fetch(`${base}/admin`)
    expect(missing.status).toBe(404)
    expect(await missing.text()).toContain('/healthz')
    expect((await fetch(`${base}/status`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${base}/healthz`, { method: 'HEAD' })).status).toBe(200)
  })
})

/** One request as raw bytes (`lines` are the request line and headers), the connection closed after. */
function rawRequest(port: number, lines: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.once('error', reject)
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const [head = '', body = ''] = text.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]), body })
    })
    socket.write(`${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`)
  })
}

describe('the admin endpoint refuses a Host that is not loopback (DNS rebinding)', () => {
  let daemon: Daemon
  let port: number
  beforeAll(async () => {
    daemon = await startDaemon(devOptions(), silentLogger)
    port = daemon.adminAddress.port
  })
  afterAll(async () => {
    await daemon.stop()
  })

  it('takes localhost, 127.x.x.x and [::1], with or without a port, and nothing else', () => {
    for (const host of [
      'localhost',
      'LocalHost:7646',
      '127.0.0.1',
      '127.0.0.1:7646',
      '127.255.10.2:80',
      '[::1]',
      '[::1]:7646',
    ]) {
      expect(hostRefusal([host]), host).toBeUndefined()
    }
    const foreign = [
      'evil.example',
      '127.0.0.1.evil.example',
      '127.0.0.1.evil.example:7646',
      'localhost.evil.example',
      'evil.localhost',
      '[::1].evil.example',
      '127.0.0.256',
      '127.0.0',
      '0.0.0.0:7646',
      '10.0.0.5:7646',
      '::1',
      '[::ffff:127.0.0.1]',
      'localhost:',
      'localhost:7646:1',
      'localhost:7646 evil.example',
    ]
    for (const host of foreign) expect(hostRefusal([host]), host).toBe('foreign-host')
    for (const hosts of [undefined, [], [''], ['localhost', 'evil.example'], ['localhost', 'localhost']]) {
      expect(hostRefusal(hosts), JSON.stringify(hosts)).toBe('missing-host')
    }
  })

  const refused: Array<[string, string[]]> = [
    ['a foreign name', ['GET /status HTTP/1.1', 'Host: evil.example']],
    ['a foreign name with the port', ['GET /peers HTTP/1.1', 'Host: evil.example:7646']],
    ['a name that starts like loopback', ['GET /status HTTP/1.1', 'Host: 127.0.0.1.evil.example']],
    ['an empty Host', ['GET /status HTTP/1.1', 'Host: ']],
    ['no Host (HTTP/1.1)', ['GET /status HTTP/1.1']],
    ['no Host (HTTP/1.0)', ['GET /peers HTTP/1.0']],
    ['two Hosts', ['GET /status HTTP/1.1', 'Host: localhost', 'Host: evil.example']],
    ['a foreign name on /healthz too', ['GET /healthz HTTP/1.1', 'Host: evil.example']],
  ]
  for (const [what, lines] of refused) {
    it(`answers 403 with one line, and no status, to ${what}`, async () => {
      const { status, body } = await rawRequest(port, lines)
      expect(status).toBe(403)
      expect(body).toBe('forbidden: the Host header must be localhost, 127.0.0.1 or [::1]\n')
    })
  }

  it('answers a loopback Host, and counts the refusals by reason', async () => {
    for (const host of ['localhost', `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const { status, body } = await rawRequest(port, ['GET /status HTTP/1.1', `Host: ${host}`])
      expect(status, host).toBe(200)
      expect(JSON.parse(body).peerId).toBe(daemon.mesh.peerId.toString())
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const count = (reason: string) =>
      Number(
        new RegExp(`^tlsmesh_admin_requests_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(
          metrics,
        )?.[1],
      )
    expect(count('foreign-host')).toBe(4)
    expect(count('missing-host')).toBe(4)
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

describe('startDaemon: --transport-thread', () => {
  const text = async (daemon: Daemon, path: string): Promise<string> =>
    (await fetch(`http://127.0.0.1:${daemon.adminAddress.port}${path}`)).text()
  const read = (daemon: Daemon, id: Buffer): string | undefined => {
    const value = daemon.mesh.cache.get('www', id)?.value
    return value !== undefined ? Buffer.from(value).toString() : undefined
  }
  const families = (metrics: string, prefix: string): string[] =>
    [...metrics.matchAll(/^# TYPE (\w+)/gm)]
      .map((match) => match[1]!)
      .filter((name) => name.startsWith(prefix))
      .sort()

  it('replicates both ways with a daemon that runs it on its own thread, says so, and keeps every metric', async () => {
    const meshKeyFile = join(dir, 'threads.key')
    await writeFile(meshKeyFile, generateMeshKey(), { mode: 0o600 })
    const keyed = { insecureDev: false, meshKeyFile, realms: ['www'] }
    const [fromThreaded, fromPlain] = [Buffer.from('from-threaded'), Buffer.from('from-plain')]
    const plain = await startDaemon(devOptions(keyed), silentLogger)
    plain.mesh.cache.set('www', fromPlain, Buffer.from('secret-2'), 60_000)
    const seeds = plain.mesh.multiaddrs()
    const threaded = await startDaemon(devOptions({ ...keyed, seeds, transportThread: true }), silentLogger)
    try {
      threaded.mesh.cache.set('www', fromThreaded, Buffer.from('secret-1'), 60_000)
      await vi.waitFor(
        () => {
          expect(read(plain, fromThreaded)).toBe('secret-1')
          expect(read(threaded, fromPlain)).toBe('secret-2')
        },
        { timeout: 20_000, interval: 50 },
      )
      // What the transport thread knows (peers, its counters) is read every 0.5 s.
      await vi.waitFor(
        async () =>
          expect(JSON.parse(await text(threaded, '/status'))).toMatchObject({
            transportThread: true,
            connectedPeers: 1,
            replica: { entries: 2 },
          }),
        { timeout: 5_000, interval: 100 },
      )
      expect(JSON.parse(await text(plain, '/status')).transportThread).toBe(false)
      await vi.waitFor(
        async () =>
          expect(await text(threaded, '/metrics')).toMatch(
            /^tlsmesh_sync_reconciliations_total\{result="succeeded"\} [1-9]/m,
          ),
        { timeout: 5_000, interval: 100 },
      )
      const [threadedMetrics, plainMetrics] = [
        await text(threaded, '/metrics'),
        await text(plain, '/metrics'),
      ]
      // The mesh's own, the pre-key refusals among them, and libp2p's, read from the transport's thread.
      expect(families(threadedMetrics, 'tlsmesh_')).toEqual(families(plainMetrics, 'tlsmesh_'))
      expect(threadedMetrics).toMatch(/^tlsmesh_mesh_prekey_refused_total\{reason="key-mismatch"\} 0$/m)
      expect(families(threadedMetrics, 'libp2p_')).toEqual(families(plainMetrics, 'libp2p_'))
      expect(families(threadedMetrics, 'libp2p_').length).toBeGreaterThan(10)
    } finally {
      await Promise.all([threaded.stop(), plain.stop()])
    }
  })
})
