// Ticket keys for HAProxy, the way an operator runs them: three tlsmeshd processes (one mesh key,
// nodes 2 and 3 seeded with node 1's address) keep the keys of realm `web` with a 6 s rotation and
// a 12 s lifetime, write them in HAProxy's format (`tls-ticket-keys`: one base64 key per line) and
// reload HAProxy (SIGUSR2 to its master); three real HAProxy 2.6 instances (Debian's) terminate TLS
// on loopback with those files. A ticket made on any instance resumes on the other two (TLS 1.2 and
// 1.3, openssl s_client); a ticket from before a rotation resumes through it, probed without a pause
// across the rotation instant and the reloads around it. HAProxy holds only the last 3 lines of the
// file (TLS_TICKETS_NO) and encrypts with the penultimate: a ticket decrypts in its own period and
// the next one only, and gets a full handshake from the second rotation on, although its key is
// still in the file and in the daemons (a 12 s lifetime): that is HAProxy's window, measured here.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DaemonStatus, TicketKeysRealmStatus } from '@tlsmesh/admin-api'
import { HAPROXY_KEY_FILE } from '@tlsmesh/ticket-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeSelfSignedCert } from '../../scripts/lib/self-signed-cert.ts'
import {
  type HaproxyServer,
  haproxyInstalled,
  haproxyReloadCommand,
  startHaproxy,
} from './lib/haproxy-server.ts'
import {
  freePort,
  type ManagedProcess,
  onInterrupt,
  startProcess,
  stopAll,
  waitUntil,
} from './lib/managed-process.ts'
import {
  sClient,
  type TlsVersion,
  ticketsUnderOneKey,
  waitForCurrentKeys as waitForCurrentKeysOf,
} from './lib/tls-clients.ts'
import { createMeshKey } from './lib/tlsmeshd-fleet.ts'

const TLSMESHD = fileURLToPath(new URL('../../apps/tlsmeshd/bin/tlsmeshd.js', import.meta.url))
const REALM = 'web'
const ROTATION_MS = 6000
/** Longer than HAProxy's window (one period after a key's own), to show where the limit lies. */
const LIFETIME_MS = 12_000
const VERSIONS: TlsVersion[] = ['TLSv1.2', 'TLSv1.3']

interface Daemon {
  name: string
  process: ManagedProcess
  admin: string
  keys(): Promise<TicketKeysRealmStatus>
}

interface Instance {
  name: string
  dir: string
  port: number
  keyDir: string
  daemon: Daemon
  haproxy?: HaproxyServer
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) })
  return { status: response.status, body: (await response.json()) as T }
}

async function startDaemon(name: string, meshKey: string, args: string[]): Promise<Daemon> {
  const port = await freePort()
  const admin = `http://127.0.0.1:${port}`
  const child = startProcess(name, process.execPath, [
    TLSMESHD,
    '--mesh-key',
    meshKey,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--admin',
    `127.0.0.1:${port}`,
    '--realm',
    REALM,
    '--ticket-keys',
    REALM,
    '--ticket-key-rotation',
    `${ROTATION_MS / 1000}s`,
    '--ticket-key-lifetime',
    `${LIFETIME_MS / 1000}s`,
    '--log-format',
    'json',
    ...args,
  ])
  const status = async (): Promise<DaemonStatus> => (await getJson<DaemonStatus>(`${admin}/status`)).body
  await waitUntil(
    `${name}'s admin endpoint`,
    async () => {
      if (child.child.exitCode !== null) throw new Error(`${name} exited:\n${child.output().slice(-3000)}`)
      return status().catch(() => undefined)
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  )
  return {
    name,
    process: child,
    admin,
    keys: async () => (await status()).ticketKeys[REALM]!,
  }
}

/** The lines of an instance's key file, base64, oldest first. */
async function keyFileLines(instance: Instance): Promise<string[]> {
  return (await readFile(join(instance.keyDir, HAPROXY_KEY_FILE), 'utf8')).split('\n').filter((l) => l !== '')
}

/** A key line's name (its first 16 bytes: HAProxy's layout starts with the name, as nginx's does). */
const lineName = (line: string): string => Buffer.from(line, 'base64').subarray(0, 16).toString('hex')

/** One counter per TLS version. */
function perVersion<T>(make: () => T): Record<TlsVersion, T> {
  return { 'TLSv1.2': make(), 'TLSv1.3': make() }
}

/** Reloads an HAProxy master has done since it started (it logs each one). */
const reloads = (instance: Instance): number =>
  instance.haproxy!.process.output().match(/Reloading HAProxy/g)?.length ?? 0

/** Why the last `resumes` that failed did: a full handshake, or the client's error. */
let lastFailure = ''

/** One handshake offering a saved session; a refused or reset connection counts as not resumed. */
async function resumes(port: number, version: TlsVersion, file: string): Promise<boolean> {
  try {
    const result = await sClient({ host: '127.0.0.1', port, version, sessIn: file })
    lastFailure = result.line
    return result.reused && result.protocol === version
  } catch (err) {
    lastFailure = (err as Error).message.slice(0, 300)
    return false
  }
}

describe.skipIf(!haproxyInstalled())('tlsmeshd ticket keys with three real HAProxy', () => {
  let dir: string
  let keyBase: string
  let meshKey: string
  let pemFile: string
  const daemons: Daemon[] = []
  const instances: Instance[] = []
  const numbers: Record<string, unknown> = {}
  let cleanup: () => void = () => {}

  const waitForCurrentKeys = (): Promise<string> => waitForCurrentKeysOf(instances, dir)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlsmesh-haproxy-tickets-'))
    keyBase = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : dir, 'tlsmesh-ticket-keys-'))
    cleanup = onInterrupt(() => {
      execFileSync('rm', ['-rf', dir, keyBase])
    })
    const certDir = join(dir, 'cert')
    await mkdir(certDir)
    writeSelfSignedCert(certDir)
    pemFile = join(certDir, 'haproxy.pem')
    await writeFile(
      pemFile,
      Buffer.concat([await readFile(join(certDir, 'cert.pem')), await readFile(join(certDir, 'key.pem'))]),
    )
    meshKey = join(dir, 'mesh.key')
    await createMeshKey(meshKey)

    const args = (i: number, seeds: string[]): string[] => [
      ...seeds.flatMap((seed) => ['--seed', seed]),
      '--identity',
      join(dir, `tlsmeshd-${i}.id`),
      '--ticket-keys-dir',
      join(keyBase, `daemon-${i}`),
      '--ticket-keys-format',
      'haproxy',
      // Fails until HAProxy runs (no pid file yet): HAProxy then reads the file as it starts.
      '--on-ticket-keys',
      haproxyReloadCommand(join(dir, `haproxy-${i}`)),
    ]
    const first = await startDaemon('tlsmeshd-1', meshKey, args(1, []))
    daemons.push(first)
    const seed = (await getJson<DaemonStatus>(`${first.admin}/status`)).body.listenAddrs[0]!
    daemons.push(
      ...(await Promise.all([2, 3].map((i) => startDaemon(`tlsmeshd-${i}`, meshKey, args(i, [seed]))))),
    )
    // HAProxy refuses to start without its key file: start it once the daemon says it is written.
    for (const daemon of daemons) {
      await waitUntil(
        `${daemon.name} to be ready`,
        async () => ((await getJson(`${daemon.admin}/readyz`)).status === 200 ? true : undefined),
        { timeoutMs: 25_000, intervalMs: 50 },
      )
    }
    for (const [index, daemon] of daemons.entries()) {
      const i = index + 1
      const instance: Instance = {
        name: `haproxy-${i}`,
        dir: join(dir, `haproxy-${i}`),
        port: await freePort(),
        keyDir: join(keyBase, `daemon-${i}`, REALM),
        daemon,
      }
      await mkdir(instance.dir)
      instance.haproxy = await startHaproxy({
        name: instance.name,
        dir: instance.dir,
        port: instance.port,
        pemFile,
        ticketKeyFile: join(instance.keyDir, HAPROXY_KEY_FILE),
      })
      instances.push(instance)
    }
  }, 60_000)

  afterAll(async () => {
    await stopAll(instances.map((instance) => instance.haproxy))
    await stopAll(daemons.map((d) => d.process))
    if (Object.keys(numbers).length > 0) console.log(`ticket-keys-haproxy: ${JSON.stringify(numbers)}`)
    await rm(dir, { recursive: true, force: true })
    await rm(keyBase, { recursive: true, force: true })
    cleanup()
  })

  it('writes one key file per daemon, 0600, that HAProxy loads: the last 3 lines, the current key penultimate', async () => {
    const current = await waitForCurrentKeys()
    for (const instance of instances) {
      const file = join(instance.keyDir, HAPROXY_KEY_FILE)
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      expect((await stat(join(instance.keyDir, '..'))).mode & 0o777).toBe(0o700)
      const status = await instance.daemon.keys()
      expect(status.files).toMatchObject({ format: 'haproxy', writeErrors: 0 })
      // What HAProxy holds is the file's last 3 lines, the daemon's current key penultimate (read
      // until no reload is under way between the reads).
      await waitUntil(
        `${instance.name} to hold its file's last 3 keys`,
        async () => {
          const lines = await keyFileLines(instance)
          const held = await instance.haproxy!.tlsKeys()
          const current = (await instance.daemon.keys()).current?.name
          const same = [...held].sort().join() === lines.slice(-3).sort().join()
          return lines.length >= 3 && same && lineName(lines.at(-2)!) === current ? true : undefined
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      )
    }
    expect(current).toMatch(/^[0-9a-f]{32}$/)
    // The daemon logs the line to put on HAProxy's bind line.
    expect(daemons[0]!.process.output()).toContain(`tls-ticket-keys ${instances[0]!.keyDir}`)
  })

  it.each(VERSIONS)('resumes a %s ticket made on each HAProxy on the other two', async (version) => {
    await waitForCurrentKeys()
    let offered = 0
    let resumed = 0
    for (const maker of instances) {
      const session = join(dir, `from-${maker.name}-${version}.pem`)
      const made = await sClient({ host: '127.0.0.1', port: maker.port, version, sessOut: session })
      expect(made).toMatchObject({ reused: false, protocol: version })
      for (const other of instances) {
        if (other === maker) continue
        offered++
        if (await resumes(other.port, version, session)) resumed++
      }
    }
    numbers[`across-${version}`] = { offered, resumed }
    expect(resumed).toBe(offered)
  })

  it('resumes tickets from before a rotation through it, then none once HAProxy drops the key at the next rotation', async () => {
    const [one] = instances as [Instance]
    const { before, oldKey } = await ticketsUnderOneKey(instances, dir, {
      rotationMs: ROTATION_MS,
      versions: VERSIONS,
    })
    const rotationAt = (oldKey.period + 1) * ROTATION_MS
    const droppedAt = rotationAt + ROTATION_MS

    // Across the rotation instant and the reloads around it (the next key's arrival, the rotation),
    // without a pause: what a rotation costs HAProxy.
    const reloadsBefore = instances.map(reloads)
    const probe = {
      offered: 0,
      failed: 0,
      byVersion: perVersion(() => ({ offered: 0, failed: 0 })),
    }
    for (let i = 0; Date.now() < rotationAt + 1500; i++) {
      const ticket = before[i % before.length]!
      const instance = instances[Math.floor(i / before.length) % instances.length]!
      const ok = await resumes(instance.port, ticket.version, ticket.file)
      const counts = probe.byVersion[ticket.version]
      probe.offered++
      counts.offered++
      if (!ok) {
        probe.failed++
        counts.failed++
      }
    }
    const reloadsDuring = instances.map((instance, i) => reloads(instance) - reloadsBefore[i]!)
    numbers.rotationProbe = { ...probe, reloadsDuring }
    expect(probe.failed).toBe(0)
    // Each HAProxy was reloaded under the probe (at the rotation, at least), not only before it.
    for (const count of reloadsDuring) expect(count).toBeGreaterThanOrEqual(1)

    // Every instance now encrypts under the new key, and still opens every old ticket.
    const newName = await waitForCurrentKeys()
    expect(newName).not.toBe(oldKey.name)
    let resumed = 0
    const afterByVersion = perVersion(() => ({ offered: 0, resumed: 0 }))
    const missed: Array<{ instance: string; version: TlsVersion; why: string; file: string[] }> = []
    for (const { version, file } of before) {
      for (const instance of instances) {
        const counts = afterByVersion[version]
        counts.offered++
        if (await resumes(instance.port, version, file)) {
          resumed++
          counts.resumed++
        } else {
          missed.push({
            instance: instance.name,
            version,
            why: lastFailure,
            file: (await keyFileLines(instance)).map(lineName),
          })
        }
      }
    }
    expect(Date.now()).toBeLessThan(droppedAt)
    numbers.afterRotation = { offered: before.length * instances.length, resumed, byVersion: afterByVersion }
    expect(resumed, JSON.stringify({ oldKey: oldKey.name, missed })).toBe(before.length * instances.length)

    // The second rotation: HAProxy keeps the last 3 lines (previous, current, next), so the old key
    // leaves it, although the daemons keep it until its 12 s lifetime is over and still write it.
    await new Promise((r) => setTimeout(r, Math.max(0, droppedAt - Date.now())))
    const refusedAfterMs: number[] = []
    for (const instance of instances) {
      const { version, file } = before[0]!
      await waitUntil(
        `${instance.name} to refuse a ticket under a key two periods old`,
        async () => ((await resumes(instance.port, version, file)) ? undefined : true),
        { timeoutMs: 5000, intervalMs: 20 },
      )
      refusedAfterMs.push(Date.now() - droppedAt)
    }
    let resumedAfter = 0
    for (const { version, file } of before) {
      for (const instance of instances) if (await resumes(instance.port, version, file)) resumedAfter++
    }
    const retiredAt = rotationAt + LIFETIME_MS
    const stillInFile = (await keyFileLines(one)).some((line) => lineName(line) === oldKey.name)
    numbers.secondRotation = {
      offered: before.length * instances.length,
      resumed: resumedAfter,
      fullHandshakeAfterMs: refusedAfterMs,
      keyStillInFile: stillInFile,
      msBeforeDaemonRetiresKey: retiredAt - Date.now(),
    }
    expect(resumedAfter).toBe(0)
    // Still in the file (an older line than HAProxy's 3) while the daemon holds it.
    if (Date.now() < retiredAt - 500) expect(stillInFile).toBe(true)
    const files = await Promise.all(daemons.map(async (daemon) => (await daemon.keys()).files!))
    // The hooks that failed ran before HAProxy started (no pid file yet); every later one reloaded it.
    numbers.hooks = files.map((f) => ({ runs: f.hookRuns, failures: f.hookFailures }))
    // Keys that lost a proposal race and are kept for decryption: they must not take the previous
    // period's place in HAProxy's 3 lines.
    numbers.replaced = await Promise.all(daemons.map(async (daemon) => (await daemon.keys()).replaced))
    numbers.reloads = instances.map(reloads)
    for (const f of files) expect(f).toMatchObject({ writeErrors: 0 })
    for (const [i, f] of files.entries()) {
      expect(f.hookRuns - f.hookFailures).toBeGreaterThanOrEqual(reloads(instances[i]!))
    }
  }, 90_000)
})
