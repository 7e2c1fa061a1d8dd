// Ticket keys end to end, the way an operator runs them: three tlsmeshd processes (a mesh key from
// `tlsmesh keygen`, nodes 2 and 3 seeded with node 1's address) each keep the keys of realm `web`
// with a 6 s rotation and a 12 s lifetime, write them for nginx and reload it; three real nginx
// instances (Debian's) read the files. A ticket from one instance resumes on the others (TLS 1.2 and
// 1.3, openssl s_client); a ticket from before a rotation resumes through it (probed without a pause
// across the rotation instant: what a rotation costs nginx) and gets a full handshake once its key is
// retired. A fourth daemon joining late becomes ready without proposing a key; two daemons that start
// apart both propose, and settle on one winner when they meet. Key files are 0600, and no key byte
// shows up anywhere else: not in the logs, not in any other file.
import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { DaemonStatus, TicketKeysRealmStatus } from '@tlsmesh/admin-api'
import { isKeyFileInWriting, nginxSlotNames, nginxTicketKeyDirectives } from '@tlsmesh/ticket-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeSelfSignedCert } from '../../scripts/lib/self-signed-cert.ts'
import {
  freePort,
  type ManagedProcess,
  onInterrupt,
  startProcess,
  stopAll,
  waitForPort,
  waitUntil,
} from './lib/managed-process.ts'
import {
  sClient,
  type TlsVersion,
  ticketsUnderOneKey,
  waitForCurrentKeys as waitForCurrentKeysOf,
} from './lib/tls-clients.ts'
import { createMeshKey } from './lib/tlsmeshd-fleet.ts'

const run = promisify(execFile)
const NGINX = '/usr/sbin/nginx'
const nginxInstalled = existsSync(NGINX)
const TLSMESHD = fileURLToPath(new URL('../../apps/tlsmeshd/bin/tlsmeshd.js', import.meta.url))
const TLSMESH = fileURLToPath(new URL('../../apps/tlsmesh/bin/tlsmesh.js', import.meta.url))
const REALM = 'web'
const ROTATION_MS = 6000
const LIFETIME_MS = 12_000
/** The package's default: a node proposes a key of its own only this long after it started. */
const JOIN_GRACE_MS = 10_000
const VERSIONS: TlsVersion[] = ['TLSv1.2', 'TLSv1.3']

interface Daemon {
  name: string
  process: ManagedProcess
  admin: string
  startedAt: number
  status(): Promise<DaemonStatus>
  keys(): Promise<TicketKeysRealmStatus>
}

interface Nginx {
  name: string
  port: number
  prefix: string
  conf: string
  keyDir: string
  daemon: Daemon
  process?: ManagedProcess
}

/** Records a daemon refused because its realm's rule kept the record it holds (a started key). */
async function conflicts(daemon: Daemon): Promise<number> {
  const response = await fetch(`${daemon.admin}/metrics`, { signal: AbortSignal.timeout(3000) })
  const match = /^tlsmesh_mesh_records_received_total\{outcome="conflict"\} (\d+)/m.exec(
    await response.text(),
  )
  return Number(match?.[1] ?? 0)
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) })
  return { status: response.status, body: (await response.json()) as T }
}

/** A tlsmeshd keeping the keys of `web` every 6 s; `args` adds seeds, a key directory, a hook. */
async function startDaemon(name: string, meshKey: string, args: string[]): Promise<Daemon> {
  const port = await freePort()
  const admin = `http://127.0.0.1:${port}`
  const startedAt = Date.now()
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
  const daemon: Daemon = {
    name,
    process: child,
    admin,
    startedAt,
    status,
    keys: async () => (await status()).ticketKeys[REALM]!,
  }
  // Three daemons and three nginx start at once on a shared 2-core host: give them room, and say
  // what the daemon printed if it still does not answer.
  await waitUntil(
    `${name}'s admin endpoint`,
    async () => {
      if (child.child.exitCode !== null) throw new Error(`${name} exited:\n${child.output().slice(-3000)}`)
      return status().catch(() => undefined)
    },
    { timeoutMs: 40_000, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; its output:\n${child.output().slice(-3000)}`)
  })
  return daemon
}

/**
 * Resolves once /readyz answers 200: how long after its start that was, and how many keys the daemon
 * had proposed by then.
 */
async function waitReady(daemon: Daemon, timeoutMs = 25_000): Promise<{ ms: number; proposed: number }> {
  await waitUntil(
    `${daemon.name} to be ready`,
    async () => ((await getJson(`${daemon.admin}/readyz`)).status === 200 ? true : undefined),
    { timeoutMs, intervalMs: 50 },
  )
  const ms = Date.now() - daemon.startedAt
  return { ms, proposed: (await daemon.keys()).proposed }
}

function nginxConf(instance: Nginx, certDir: string, slots: number): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${instance.prefix}/nginx.pid;
error_log ${instance.prefix}/error.log notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${instance.prefix}/body;
  proxy_temp_path ${instance.prefix}/proxy;
  fastcgi_temp_path ${instance.prefix}/fastcgi;
  uwsgi_temp_path ${instance.prefix}/uwsgi;
  scgi_temp_path ${instance.prefix}/scgi;
  server {
    listen 127.0.0.1:${instance.port} ssl;
    ssl_certificate ${certDir}/cert.pem;
    ssl_certificate_key ${certDir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    ssl_session_timeout 1h;
    ${nginxTicketKeyDirectives(instance.keyDir, slots).split('\n').join('\n    ')}
    location / { return 200 "ok\\n"; }
  }
}
`
}

function nginxArgs(instance: Nginx): string[] {
  return ['-p', instance.prefix, '-c', instance.conf, '-e', join(instance.prefix, 'error.log')]
}

describe.skipIf(!nginxInstalled)('tlsmeshd ticket keys with three real nginx', () => {
  let dir: string
  /** Key directories on tmpfs when there is one: the daemon warns otherwise, as it should. */
  let keyBase: string
  let meshKey: string
  let certDir: string
  const daemons: Daemon[] = []
  const extra: Daemon[] = []
  const nginx: Nginx[] = []
  /** Every key the fleet held, read from the nginx files (the one place keys may be on a disk). */
  const materials = new Map<string, Buffer>()
  const numbers: Record<string, unknown> = {}
  let cleanup: () => void = () => {}

  const collectKeys = async (): Promise<void> => {
    for (const instance of nginx) {
      for (const name of await readdir(instance.keyDir)) {
        const bytes = await readFile(join(instance.keyDir, name))
        materials.set(bytes.toString('hex'), bytes)
      }
    }
  }

  const waitForCurrentKeys = (): Promise<string> => waitForCurrentKeysOf(nginx, dir)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlsmesh-ticket-daemons-'))
    keyBase = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : dir, 'tlsmesh-ticket-keys-'))
    cleanup = onInterrupt(() => {
      execFileSync('rm', ['-rf', dir, keyBase])
    })
    certDir = join(dir, 'cert')
    await mkdir(certDir)
    writeSelfSignedCert(certDir)
    meshKey = join(dir, 'mesh.key')
    await createMeshKey(meshKey)

    for (const i of [1, 2, 3]) {
      const prefix = join(dir, `nginx-${i}`)
      await mkdir(prefix)
      nginx.push({
        name: `nginx-${i}`,
        port: await freePort(),
        prefix,
        conf: join(prefix, 'nginx.conf'),
        keyDir: join(keyBase, `daemon-${i}`, REALM),
        daemon: undefined as unknown as Daemon,
      })
    }
    const daemonArgs = (instance: Nginx, seeds: string[]): string[] => [
      ...seeds.flatMap((seed) => ['--seed', seed]),
      '--identity',
      join(dir, `${instance.name}.id`),
      '--ticket-keys-dir',
      join(keyBase, `daemon-${instance.name.slice(-1)}`),
      '--ticket-keys-format',
      'nginx',
      // Fails until nginx runs (nothing to reload yet): nginx then reads the files as it starts.
      '--on-ticket-keys',
      `${NGINX} ${nginxArgs(instance).join(' ')} -s reload`,
    ]
    const first = await startDaemon('tlsmeshd-1', meshKey, daemonArgs(nginx[0]!, []))
    daemons.push(first)
    const seed = (await first.status()).listenAddrs[0]!
    daemons.push(
      ...(await Promise.all(
        [2, 3].map((i) => startDaemon(`tlsmeshd-${i}`, meshKey, daemonArgs(nginx[i - 1]!, [seed]))),
      )),
    )
    for (const [i, instance] of nginx.entries()) instance.daemon = daemons[i]!
    // Two daemons that know nobody: each proposes its own keys after its grace (the race, below).
    extra.push(
      ...(await Promise.all([
        startDaemon('racer-a', meshKey, []),
        (async () => {
          const config = join(dir, 'racer-b.yaml')
          await writeFile(config, 'seeds: []\n')
          return startDaemon('racer-b', meshKey, ['--config', config])
        })(),
      ])),
    )

    // nginx refuses to start without its key files: start it once the daemon says they are written.
    const ready = await Promise.all(daemons.map((d) => waitReady(d)))
    numbers.readyAfterMs = ready.map((r) => r.ms)
    // Node 1 proposed the first keys after its grace; 2 and 3, started later, were ready on them
    // before their own grace ran out.
    numbers.proposedWhenReady = ready.map((r) => r.proposed)
    const slots = (await first.keys()).files!.slots
    for (const instance of nginx) {
      await writeFile(instance.conf, nginxConf(instance, certDir, slots))
      instance.process = startProcess(instance.name, NGINX, nginxArgs(instance), {
        logFiles: [join(instance.prefix, 'error.log')],
      })
      await waitForPort('127.0.0.1', instance.port, instance.process)
    }
  }, 120_000)

  afterAll(async () => {
    await stopAll(nginx.map((instance) => instance.process))
    await stopAll([...daemons, ...extra].map((d) => d.process))
    if (Object.keys(numbers).length > 0) console.log(`ticket-keys-daemon: ${JSON.stringify(numbers)}`)
    await rm(dir, { recursive: true, force: true })
    await rm(keyBase, { recursive: true, force: true })
    cleanup()
  })

  it('holds one current key fleet-wide, written 0600 into 0700 directories, with the key realm served', async () => {
    const keys = await Promise.all(daemons.map((d) => d.keys()))
    // One node proposed the first keys; the others took them from the mesh and were ready on them.
    const names = new Set(keys.map((k) => k.current?.name))
    expect(names.size, JSON.stringify(keys.map((k) => k.current))).toBe(1)
    expect(numbers.proposedWhenReady).toEqual([expect.any(Number), 0, 0])
    expect(keys[0]!.proposed).toBeGreaterThanOrEqual(1)
    for (const [i, k] of keys.entries()) {
      expect(k).toMatchObject({ ready: true, rotationMs: ROTATION_MS, decryptLifetimeMs: LIFETIME_MS })
      expect(k.files).toMatchObject({ dir: nginx[i]!.keyDir, format: 'nginx', writeErrors: 0 })
      const status = await daemons[i]!.status()
      expect(Object.keys(status.realms).sort()).toEqual([REALM, `${REALM}.tickets`])
      expect(status.readiness).toEqual({ ready: true, reasons: [] })
    }
    for (const instance of nginx) {
      expect((await stat(join(instance.keyDir, '..'))).mode & 0o777).toBe(0o700)
      // A rotation may be rewriting a slot as this reads: its temporary file comes and goes.
      const files = (await readdir(instance.keyDir)).filter((name) => !isKeyFileInWriting(name)).sort()
      expect(files).toEqual(nginxSlotNames(keys[0]!.files!.slots).sort())
      for (const file of files) expect((await stat(join(instance.keyDir, file))).mode & 0o777).toBe(0o600)
    }
    // On tmpfs: no warning. The first hook ran before nginx did, and said so.
    const log = daemons[0]!.process.output()
    expect(log).not.toContain('not on tmpfs')
    expect(log).toContain('ssl_session_ticket_key')
    await collectKeys()
  })

  it.each(VERSIONS)('resumes a %s ticket from nginx 1 on nginx 2 and 3', async (version) => {
    await waitForCurrentKeys()
    const [one, two, three] = nginx as [Nginx, Nginx, Nginx]
    const session = join(dir, `from-1-${version}.pem`)
    const made = await sClient({ host: '127.0.0.1', port: one.port, version, sessOut: session })
    expect(made).toMatchObject({ reused: false, protocol: version })
    for (const other of [two, three]) {
      const resumed = await sClient({ host: '127.0.0.1', port: other.port, version, sessIn: session })
      expect(resumed, `${version} on ${other.name}`).toMatchObject({ reused: true, protocol: version })
    }
  })

  it('lets a late joiner become ready from its peers, within its join grace, without proposing', async () => {
    const seed = (await daemons[1]!.status()).listenAddrs[0]!
    const late = await startDaemon('tlsmeshd-late', meshKey, ['--seed', seed])
    extra.push(late)
    const ready = await waitReady(late)
    const [mine, fleet] = await Promise.all([late.keys(), daemons[0]!.keys()])
    numbers.lateJoinerReadyAfterMs = ready.ms
    expect(ready.ms).toBeLessThan(JOIN_GRACE_MS)
    expect(ready.proposed).toBe(0)
    // The same key, unless a rotation fell between the two reads.
    if (mine.current!.period === fleet.current!.period) expect(mine.current!.name).toBe(fleet.current!.name)
  })

  it('settles a proposal race: two daemons with keys of their own agree on one winner by the next rotation', async () => {
    const [a, b] = extra as [Daemon, Daemon]
    await Promise.all([waitReady(a), waitReady(b)])
    const before = await Promise.all([a.keys(), b.keys()])
    // Each proposed for the same periods, alone.
    expect(before[0].proposed).toBeGreaterThanOrEqual(1)
    expect(before[1].proposed).toBeGreaterThanOrEqual(1)
    expect(before[0].current!.name).not.toBe(before[1].current!.name)

    // b learns a's address from its config file, as an operator would add a seed, and meets it.
    const seed = (await a.status()).listenAddrs[0]!
    await writeFile(join(dir, 'racer-b.yaml'), `seeds: ["${seed}"]\n`)
    b.process.signal('SIGHUP')
    const metAt = Date.now()
    // Catch-up brings each the other's keys: a key for a period not yet under way (or made within
    // the last moments) goes to the newer proposal; one its servers have been encrypting with stays
    // until its period ends (a conflict, counted and logged), so the two agree by the next rotation.
    const after = await waitUntil(
      'the two racers to hold the same current and next keys',
      async () => {
        const [ka, kb] = await Promise.all([a.keys(), b.keys()])
        const same =
          ka.current !== null &&
          ka.current.period === kb.current?.period &&
          ka.current.name === kb.current.name &&
          ka.current.origin === kb.current.origin &&
          (ka.next === null || kb.next === null || ka.next.name === kb.next.name)
        return same ? ([ka, kb] as const) : undefined
      },
      { timeoutMs: 4 * ROTATION_MS, intervalMs: 50 },
    )
    numbers.race = {
      settledAfterMs: Date.now() - metAt,
      replaced: after.map((k) => k.replaced),
      held: after.map((k) => k.held),
    }
    expect(
      after[0].replaced + after[1].replaced + (await conflicts(a)) + (await conflicts(b)),
    ).toBeGreaterThanOrEqual(1)
  })

  it('resumes tickets from before a rotation through it, and none once their key is retired', async () => {
    const [one] = nginx as [Nginx]
    // Tickets made early enough in a period that the rotation comes after they are all made.
    const { before, oldKey } = await ticketsUnderOneKey(nginx, dir, {
      rotationMs: ROTATION_MS,
      versions: VERSIONS,
    })
    await collectKeys()
    const oldMaterial = [...materials.values()].find(
      (m) => m.subarray(0, 16).toString('hex') === oldKey.name,
    )!
    const rotationAt = (oldKey.period + 1) * ROTATION_MS
    const retiredAt = rotationAt + LIFETIME_MS

    // Across the rotation instant and the reloads after it, without a pause: what a rotation costs.
    let offered = 0
    let failed = 0
    for (let i = 0; Date.now() < rotationAt + 1500; i++) {
      const ticket = before[i % before.length]!
      const instance = nginx[Math.floor(i / before.length) % nginx.length]!
      const result = await sClient({
        host: '127.0.0.1',
        port: instance.port,
        version: ticket.version,
        sessIn: ticket.file,
      })
      offered++
      if (!result.reused) failed++
    }
    numbers.rotationProbe = { offered, failed }
    expect(failed).toBe(0)

    // Every instance now encrypts under the new key, and still opens every old ticket.
    const newName = await waitForCurrentKeys()
    expect(newName).not.toBe(oldKey.name)
    expect(Date.now()).toBeLessThan(retiredAt)
    let resumed = 0
    for (const { version, file } of before) {
      for (const instance of nginx) {
        if ((await sClient({ host: '127.0.0.1', port: instance.port, version, sessIn: file })).reused)
          resumed++
      }
    }
    numbers.afterRotation = { offered: before.length * nginx.length, resumed }
    expect(resumed).toBe(before.length * nginx.length)
    await collectKeys()

    // Still valid until the end of its lifetime, two rotations later.
    await new Promise((r) => setTimeout(r, Math.max(0, retiredAt - 1500 - Date.now())))
    for (const { version, file } of before) {
      const result = await sClient({ host: '127.0.0.1', port: one.port, version, sessIn: file })
      expect(result.reused, `${version} just before retirement`).toBe(true)
    }
    expect(Date.now()).toBeLessThan(retiredAt)

    // Past its lifetime the key leaves every daemon and every file, and nginx is reloaded without it.
    await new Promise((r) => setTimeout(r, Math.max(0, retiredAt - Date.now())))
    const refusedAfterMs: number[] = []
    for (const instance of nginx) {
      const { version, file } = before[0]!
      await waitUntil(
        `${instance.name} to refuse a ticket under the retired key`,
        async () => {
          const result = await sClient({ host: '127.0.0.1', port: instance.port, version, sessIn: file })
          return result.reused ? undefined : true
        },
        { timeoutMs: 5000, intervalMs: 20 },
      )
      refusedAfterMs.push(Date.now() - retiredAt)
    }
    numbers.fullHandshakeAfterRetirementMs = refusedAfterMs
    let resumedAfter = 0
    for (const { version, file } of before) {
      for (const instance of nginx) {
        if ((await sClient({ host: '127.0.0.1', port: instance.port, version, sessIn: file })).reused)
          resumedAfter++
      }
    }
    expect(resumedAfter).toBe(0)
    for (const instance of nginx) {
      for (const name of await readdir(instance.keyDir)) {
        expect((await readFile(join(instance.keyDir, name))).equals(oldMaterial), name).toBe(false)
      }
    }
    for (const daemon of daemons) {
      const k = await daemon.keys()
      expect(k.files).toMatchObject({ writeErrors: 0 })
      expect(k.current!.name).not.toBe(oldKey.name)
    }
    await collectKeys()
  })

  it("shows each daemon's key in tlsmesh status and watch", async () => {
    const admins = daemons.map((d) => d.admin.replace('http://', ''))
    const status = await run(process.execPath, [TLSMESH, 'status', '--admin', admins[0]!], {
      timeout: 15_000,
    })
    expect(status.stdout).toMatch(/^ticket keys +current key name +age +held +next$/m)
    expect(status.stdout).toMatch(new RegExp(`^${REALM} +[0-9a-f]{32} +\\d+s +\\d+ `, 'm'))
    expect(status.stdout).toContain(`nginx files in ${nginx[0]!.keyDir}: written`)
    const watch = await run(
      process.execPath,
      [TLSMESH, 'watch', '--once', ...admins.flatMap((admin) => ['--admin', admin])],
      { timeout: 15_000, env: { ...process.env, NO_COLOR: '1' } },
    )
    expect(watch.stdout).toMatch(new RegExp(`^ticket keys ${REALM}: [0-9a-f]{8} on 3 \\(age \\d+s\\)$`, 'm'))
    // The first hook failed (nginx was not running yet); later ones succeeded and cleared it.
    expect(watch.stdout).toContain('no warnings')
    numbers.fleet = await Promise.all(
      daemons.map(async (d) => {
        const k = await d.keys()
        return {
          proposed: k.proposed,
          rotations: k.rotations,
          replaced: k.replaced,
          hookFailures: k.files?.hookFailures,
        }
      }),
    )
  })

  it('writes keys nowhere but the key files: not in the logs, not in any other file', async () => {
    expect(materials.size).toBeGreaterThanOrEqual(3)
    // Every form a key could be printed in: the 80-byte record (nginx), its secret halves, HAProxy's
    // layout, Node's 48 bytes; as hex, base64 and raw bytes.
    const needles: Buffer[] = []
    for (const m of materials.values()) {
      const hmac = m.subarray(16, 48)
      const aes = m.subarray(48, 80)
      const haproxy = Buffer.concat([m.subarray(0, 16), aes, hmac])
      const node = Buffer.concat([m.subarray(0, 16), hmac.subarray(0, 16), aes.subarray(0, 16)])
      for (const secret of [hmac, aes]) needles.push(secret, Buffer.from(secret.toString('hex')))
      for (const whole of [m, haproxy, node]) {
        needles.push(Buffer.from(whole.toString('hex')), Buffer.from(whole.toString('base64')))
      }
    }
    const haystacks: Array<[string, Buffer]> = [...daemons, ...extra].map((d) => [
      `${d.name}'s output`,
      Buffer.from(d.process.output()),
    ])
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        const full = join(path, entry.name)
        if (entry.isDirectory()) await walk(full)
        else if (entry.isFile()) haystacks.push([full, await readFile(full)])
      }
    }
    await walk(dir)
    // The key directories hold the key files only.
    for (const instance of nginx) {
      expect((await readdir(join(instance.keyDir, '..'))).sort()).toEqual([REALM])
      expect(
        (await readdir(instance.keyDir)).every((name) => /^(current|next|previous-\d+)\.key$/.test(name)),
      ).toBe(true)
    }
    numbers.scanned = { files: haystacks.length, keys: materials.size, needles: needles.length }
    for (const [where, bytes] of haystacks) {
      for (const needle of needles) expect(bytes.includes(needle), where).toBe(false)
    }
    // What the logs may say about a key: its public name.
    expect(daemons[0]!.process.output()).toContain('"current":"')
  })
})
