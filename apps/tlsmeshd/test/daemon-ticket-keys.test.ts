import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { DaemonStatus, Readiness, TicketKeysRealmStatus } from '@tlsmesh/admin-api'
import type { MeshStatus } from '@tlsmesh/mesh'
import { createReplicaStore, DEFAULT_MAX_TTL_MS, LocalSessionCache } from '@tlsmesh/store'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startDaemon } from '../src/daemon.ts'
import { readiness, registerTicketKeyMetrics } from '../src/daemon-status.ts'
import { DaemonTicketKeys, mountOf, prepareTicketKeyDir } from '../src/daemon-ticket-keys.ts'
import { devOptions, silentLogger } from './test-daemon.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlsmeshd-tickets-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A pino logger whose lines land in `lines`, parsed. */
function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    }),
  )
  return { logger, lines }
}

describe('mountOf', () => {
  const mounts = [
    '/dev/sda1 / ext4 rw,relatime 0 0',
    'tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0',
    'tmpfs /run/user/0 tmpfs rw 0 0',
    '/dev/sdb1 /srv/key\\040dir ext4 rw 0 0',
    // Mounted over the previous line: the later one is what a path reaches.
    'tmpfs /srv/key\\040dir tmpfs rw 0 0',
  ].join('\n')

  it('finds the longest mount point holding a path, the last one mounted winning', () => {
    expect(mountOf('/run/tlsmesh/tickets', mounts)).toEqual({ mountPoint: '/run', fsType: 'tmpfs' })
    expect(mountOf('/var/lib/tlsmesh', mounts)).toEqual({ mountPoint: '/', fsType: 'ext4' })
    expect(mountOf('/srv/key dir/www', mounts)).toEqual({ mountPoint: '/srv/key dir', fsType: 'tmpfs' })
    // A prefix of a name is not a parent directory.
    expect(mountOf('/runner/x', mounts)).toEqual({ mountPoint: '/', fsType: 'ext4' })
  })
})

describe('prepareTicketKeyDir', () => {
  const rootOnly = async () => '/dev/sda1 / ext4 rw 0 0\n'

  it('makes the directory 0700 and warns, saying why, when it is on a disk', async () => {
    const { logger, lines } = captureLogger()
    const keys = join(dir, 'made', 'keys')
    const check = await prepareTicketKeyDir(keys, logger, rootOnly)
    expect((await stat(keys)).mode & 0o777).toBe(0o700)
    expect(check).toMatchObject({ mode: 0o700, inMemory: false })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 40, dir: keys, fsType: 'ext4' })
    expect(lines[0]!.msg).toMatch(/not on tmpfs: the keys are written to a disk.*put it on tmpfs/)
  })

  it('says nothing for a private directory on tmpfs, and warns of one others can enter', async () => {
    const { logger, lines } = captureLogger()
    const keys = join(dir, 'tmpfs-keys')
    const inMemory = async () => `/dev/sda1 / ext4 rw 0 0\ntmpfs ${dir} tmpfs rw 0 0\n`
    expect(await prepareTicketKeyDir(keys, logger, inMemory)).toMatchObject({ inMemory: true })
    expect(lines).toEqual([])

    const open = join(dir, 'open-keys')
    await mkdir(open, { mode: 0o755 })
    await prepareTicketKeyDir(open, logger, inMemory)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 40, mode: '0755' })
    expect(lines[0]!.msg).toMatch(/open to other users: make it mode 0700/)
  })

  it('goes on without /proc/mounts', async () => {
    const { logger } = captureLogger()
    const check = await prepareTicketKeyDir(join(dir, 'no-proc'), logger, () =>
      Promise.reject(new Error('ENOENT')),
    )
    expect(check.inMemory).toBeUndefined()
  })
})

describe('DaemonTicketKeys', () => {
  it('is not ready until it holds the current key and has written the files, then writes them 0600', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12, 0, 0), toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const keysDir = join(dir, 'files')
    const store = createReplicaStore({ realms: ['www.tickets'] })
    const { logger, lines } = captureLogger()
    const keys = new DaemonTicketKeys(
      {
        realms: ['www'],
        rotationMs: 6000,
        decryptLifetimeMs: 12_000,
        files: { dir: keysDir, format: 'nginx' },
      },
      { cache: new LocalSessionCache({ store, origin: 'me' }), peerId: 'me', logger },
    )
    expect(keys.keyRealms).toEqual(['www.tickets'])
    await keys.start()
    const before = keys.status()
    expect(before.www).toMatchObject({
      keyRealm: 'www.tickets',
      ready: false,
      held: 0,
      current: null,
      rotationMs: 6000,
      files: { dir: join(keysDir, 'www'), format: 'nginx', slots: 6, writes: 0, current: null },
    })
    const reasons = (r: Readiness) => r.reasons.map((reason) => reason.code)
    const mesh = { uptimeMs: 1, listenAddrs: ['/ip4/127.0.0.1/tcp/1'], connectedPeers: 0 } as MeshStatus
    expect(reasons(readiness(mesh, { seeds: 0, ticketKeys: before }))).toEqual([
      'ticket-keys-pending',
      'ticket-key-files-pending',
    ])
    // The nginx lines to configure are logged once, paths only.
    const directives = lines.find((line) => Array.isArray(line.directives))
    expect(directives?.directives).toEqual([
      `ssl_session_ticket_key ${join(keysDir, 'www', 'current.key')};`,
      `ssl_session_ticket_key ${join(keysDir, 'www', 'next.key')};`,
      `ssl_session_ticket_key ${join(keysDir, 'www', 'previous-1.key')};`,
      `ssl_session_ticket_key ${join(keysDir, 'www', 'previous-2.key')};`,
      `ssl_session_ticket_key ${join(keysDir, 'www', 'previous-3.key')};`,
      `ssl_session_ticket_key ${join(keysDir, 'www', 'previous-4.key')};`,
    ])

    // Alone, it proposes once its join grace (10 s) is over.
    await vi.advanceTimersByTimeAsync(11_000)
    await vi.waitFor(() => expect(keys.status().www!.files!.current).not.toBeNull())
    const after = keys.status().www!
    expect(after).toMatchObject({ ready: true, proposed: expect.any(Number), rotations: 1 })
    expect(after.current!.name).toMatch(/^[0-9a-f]{32}$/)
    expect(after.files!.current).toBe(after.current!.name)
    expect(readiness(mesh, { seeds: 0, ticketKeys: keys.status() })).toEqual({ ready: true, reasons: [] })
    // A later write (the next key, proposed meanwhile) may be under way: its temporary file is not a slot.
    const files = (await readdir(join(keysDir, 'www'))).filter((file) => !file.startsWith('.'))
    expect(files.sort()).toEqual(
      [
        'current.key',
        'next.key',
        'previous-1.key',
        'previous-2.key',
        'previous-3.key',
        'previous-4.key',
      ].sort(),
    )
    for (const file of files) expect((await stat(join(keysDir, 'www', file))).mode & 0o777).toBe(0o600)
    const material = await readFile(join(keysDir, 'www', 'current.key'))
    expect(material.subarray(0, 16).toString('hex')).toBe(after.current!.name)
    // The log names keys, never holds them.
    const log = JSON.stringify(lines)
    expect(log).toContain(after.current!.name)
    expect(log).not.toContain(material.subarray(16).toString('hex'))
    expect(log).not.toContain(material.toString('base64'))
    expect(lines.some((line) => line.msg === 'ticket key rotated')).toBe(true)

    await keys.stop()
    expect(keys.status().www!.files).not.toBeNull()
  })
})

describe('ticket key metrics', () => {
  const status = (overrides: Partial<TicketKeysRealmStatus>): TicketKeysRealmStatus => ({
    keyRealm: 'www.tickets',
    ready: true,
    held: 3,
    current: { name: 'ab'.repeat(16), period: 7, ageMs: 1500, origin: 'me' },
    next: null,
    rotationMs: 3_600_000,
    decryptLifetimeMs: 43_200_000,
    proposed: 2,
    rotations: 4,
    replaced: 1,
    invalidRecords: 0,
    errors: 0,
    files: {
      dir: '/run/k/www',
      format: 'nginx',
      slots: 16,
      writes: 5,
      writeErrors: 1,
      current: 'ab'.repeat(16),
      lastWriteAt: 1,
      lastWriteError: null,
      hookRuns: 5,
      hookFailures: 2,
      lastHook: null,
    },
    ...overrides,
  })

  it('reports held keys, age, rotations, proposals and file writes per realm, and no age without a key', async () => {
    const registry = new Registry()
    let realms: Record<string, TicketKeysRealmStatus> = {
      www: status({}),
      api: status({ current: null, held: 0, ready: false, files: null }),
    }
    registerTicketKeyMetrics(registry, () => realms)
    const text = await registry.metrics()
    expect(text).toMatch(/^tlsmesh_ticket_keys_held\{realm="www"\} 3$/m)
    expect(text).toMatch(/^tlsmesh_ticket_keys_held\{realm="api"\} 0$/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_age_seconds\{realm="www"\} 1.5$/m)
    expect(text).not.toMatch(/^tlsmesh_ticket_key_age_seconds\{realm="api"\}/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_rotation_seconds\{realm="www"\} 3600$/m)
    expect(text).toMatch(/^tlsmesh_ticket_keys_ready\{realm="api"\} 0$/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_rotations_total\{realm="www"\} 4$/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_proposals_total\{realm="www"\} 2$/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_replaced_total\{realm="www"\} 1$/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_file_writes_total\{realm="www",result="failed"\} 1$/m)
    expect(text).toMatch(/^tlsmesh_ticket_key_hook_runs_total\{realm="www",result="ok"\} 3$/m)
    realms = { www: status({ rotations: 5 }) }
    expect(await registry.metrics()).toMatch(/^tlsmesh_ticket_key_rotations_total\{realm="www"\} 5$/m)
  })
})

describe('startDaemon with --ticket-keys', () => {
  it('serves the key realm, waits for its keys before /readyz says 200, and shows them in /status and /metrics', async () => {
    const keysDir = join(dir, 'daemon-keys')
    const daemon = await startDaemon(
      devOptions({
        realms: ['www'],
        ticketKeys: {
          realms: ['www'],
          rotationMs: 6000,
          decryptLifetimeMs: 12_000,
          files: { dir: keysDir, format: 'nginx' },
        },
      }),
      silentLogger,
    )
    const base = `http://${daemon.adminAddress.host}:${daemon.adminAddress.port}`
    try {
      expect(Object.keys(daemon.mesh.status().realms)).toEqual(['www', 'www.tickets'])
      expect(daemon.mesh.store.limits.maxTtlMs).toBe(DEFAULT_MAX_TTL_MS)
      expect((await stat(keysDir)).mode & 0o777).toBe(0o700)
      const ready = await fetch(`${base}/readyz`)
      expect(ready.status).toBe(503)
      expect(((await ready.json()) as Readiness).reasons).toEqual([
        expect.objectContaining({ code: 'ticket-keys-pending', realm: 'www' }),
        expect.objectContaining({ code: 'ticket-key-files-pending', realm: 'www' }),
      ])
      const status = (await (await fetch(`${base}/status`)).json()) as DaemonStatus
      expect(status.ticketKeys.www).toMatchObject({
        keyRealm: 'www.tickets',
        current: null,
        rotationMs: 6000,
        decryptLifetimeMs: 12_000,
        files: { dir: join(keysDir, 'www'), slots: 6 },
      })
      const metrics = await (await fetch(`${base}/metrics`)).text()
      expect(metrics).toMatch(/^tlsmesh_ticket_keys_held\{realm="www"\} 0$/m)
      expect(metrics).toMatch(/^tlsmesh_daemon_ready 0$/m)
      expect(metrics).toMatch(/^tlsmesh_realm_replica_entries\{realm="www.tickets"\} 0$/m)
    } finally {
      await daemon.stop()
    }
  })

  it('raises the replica TTL cap when a key record would outlive a day', async () => {
    const daemon = await startDaemon(
      devOptions({
        realms: ['www'],
        ticketKeys: { realms: ['www'], rotationMs: 24 * 3_600_000, decryptLifetimeMs: 7 * 24 * 3_600_000 },
      }),
      silentLogger,
    )
    try {
      // ahead (15 min) + rotation (1 d) + lifetime (7 d)
      expect(daemon.mesh.store.limits.maxTtlMs).toBe(15 * 60_000 + 8 * 24 * 3_600_000)
      expect(daemon.ticketKeys?.status().www?.files).toBeNull()
    } finally {
      await daemon.stop()
    }
  })
})
