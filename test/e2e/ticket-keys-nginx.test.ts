// Three real nginx instances (Debian's nginx-light) on loopback, each fed by its own ticket key
// schedule through the nginx file writer and a reload hook: a ticket made on one instance resumes on
// the others (TLS 1.2 and 1.3, openssl s_client -sess_out / -sess_in), a ticket from before a
// rotation still resumes after it while its key decrypts, and gets a full handshake once retired.
// The schedules exchange key records by hand (what gossip does; the mesh is tested on its own), and
// their clock is moved by hand, so an hour's rotation takes no waiting; nginx never sees that clock.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createReplicaStore, LocalSessionCache, type ReplicaStore } from '@tlsmesh/store'
import {
  type AttachedTicketKeyFiles,
  attachTicketKeyFiles,
  createTicketKeySchedule,
  nginxTicketKeyDirectives,
  type TicketKeySchedule,
  ticketKeyRealm,
  writeTicketKeyFiles,
} from '@tlsmesh/ticket-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeSelfSignedCert } from '../../scripts/lib/self-signed-cert.ts'

const run = promisify(execFile)
const NGINX = '/usr/sbin/nginx'
const nginxInstalled = existsSync(NGINX)
const REALM = 'www'
const KEY_REALM = ticketKeyRealm(REALM)
const HOUR = 3_600_000
const T0 = Math.floor(1_700_000_000_000 / HOUR) * HOUR
/** A key encrypts for an hour and decrypts one hour more: two rotations retire it. */
const SCHEDULE = { realm: REALM, rotationMs: HOUR, decryptLifetimeMs: HOUR, joinGraceMs: 0 }

type Version = 'TLSv1.2' | 'TLSv1.3'

interface Instance {
  name: string
  port: number
  prefix: string
  conf: string
  store: ReplicaStore
  schedule: TicketKeySchedule
  files?: AttachedTicketKeyFiles
  process?: ChildProcess
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function nginxConf(instance: Instance, keyDir: string, certDir: string, slots: number): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${instance.prefix}/nginx.pid;
error_log ${instance.prefix}/error.log notice;
events { worker_connections 64; }
http {
  access_log off;
  # Under the prefix, so that an instance needs no write access to /var/lib/nginx.
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
    ${nginxTicketKeyDirectives(keyDir, slots).split('\n').join('\n    ')}
    location / { return 200 "ok\\n"; }
  }
}
`
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`port ${port} did not open`)
}

interface SClient {
  reused: boolean
  protocol: string
}

/** One s_client connection with an HTTP/1.0 request, so that a TLS 1.3 ticket arrives before the close. */
async function sClient(
  port: number,
  version: Version,
  session: { out?: string; in?: string },
): Promise<SClient> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-ign_eof']
  args.push(version === 'TLSv1.2' ? '-tls1_2' : '-tls1_3')
  if (session.out !== undefined) args.push('-sess_out', session.out)
  if (session.in !== undefined) args.push('-sess_in', session.in)
  const pending = run('openssl', args, { timeout: 10_000 })
  pending.child.stdin?.end('GET / HTTP/1.0\r\n\r\n')
  const { stdout } = await pending
  const line = stdout.split('\n').find((l) => /^(New|Reused), TLS/.test(l))
  if (line === undefined) throw new Error(`s_client: no handshake line:\n${stdout.slice(0, 2000)}`)
  return { reused: line.startsWith('Reused'), protocol: line.split(', ')[1]! }
}

/** The key name a ticket was made under: its first 16 bytes (RFC 5077 key_name). */
function ticketKeyName(sessionFile: string): string {
  const text = execFileSync('openssl', ['sess_id', '-in', sessionFile, '-noout', '-text'], {
    encoding: 'utf8',
  })
  const dump = text.split('TLS session ticket:')[1]
  const first = dump?.split('\n').find((l) => /^\s*0000 - /.test(l))
  if (first === undefined) throw new Error('no ticket in the session')
  return first
    .replace(/^\s*0000 - /, '')
    .slice(0, 48)
    .replace(/[^0-9a-f]/g, '')
}

describe.skipIf(!nginxInstalled)('three nginx instances sharing ticket keys through their schedules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-nginx-tickets-'))
  const certDir = join(dir, 'cert')
  const clock = { now: T0 + 50 * 60_000 }
  const instances: Instance[] = []

  /** Every node's key records to every other node, then every schedule re-reads: gossip, by hand. */
  const gossip = (): void => {
    for (const from of instances) {
      for (const to of instances) {
        if (from === to) continue
        for (const record of [...from.store.entries(KEY_REALM, clock.now)]) to.store.merge(record, clock.now)
      }
    }
    for (const instance of instances) instance.schedule.refresh()
  }

  /** Moves the clock, lets every schedule rotate, and waits for the files to be written and reloaded. */
  const advanceTo = async (time: number): Promise<void> => {
    clock.now = time
    for (const instance of instances) instance.schedule.refresh()
    gossip()
    await Promise.all(instances.map((instance) => instance.files!.sync()))
  }

  /** Until a new ticket from every instance is made under the schedule's current key (reload done). */
  const waitForCurrentKey = async (): Promise<void> => {
    for (const instance of instances) {
      const expected = instance.schedule.current()!.nameHex
      const file = join(dir, `probe-${instance.name}.pem`)
      const deadline = Date.now() + 10_000
      for (;;) {
        await sClient(instance.port, 'TLSv1.3', { out: file })
        if (ticketKeyName(file) === expected) break
        if (Date.now() > deadline) throw new Error(`${instance.name} did not pick up key ${expected}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  beforeAll(async () => {
    mkdirSync(certDir)
    writeSelfSignedCert(certDir)
    const now = (): number => clock.now
    for (const name of ['nginx-1', 'nginx-2', 'nginx-3']) {
      const store = createReplicaStore({ realms: [KEY_REALM] })
      const cache = new LocalSessionCache({ store, now, origin: name })
      const schedule = createTicketKeySchedule(SCHEDULE, { cache, now })
      const prefix = join(dir, name)
      mkdirSync(prefix)
      instances.push({
        name,
        port: await freePort(),
        prefix,
        conf: join(prefix, 'nginx.conf'),
        store,
        schedule,
      })
    }
    // nginx-1 proposes the first keys (its peers have none to offer), the others adopt them.
    await instances[0]!.schedule.start()
    clock.now += 60_000
    instances[0]!.schedule.refresh()
    gossip()
    for (const instance of instances.slice(1)) await instance.schedule.start()

    for (const instance of instances) {
      const keyDir = join(instance.prefix, 'keys')
      const slots = instance.schedule.maxKeys
      // The files must exist before nginx starts; from then on the writer keeps them and reloads.
      await writeTicketKeyFiles(keyDir, instance.schedule.keys(), { format: 'nginx', slots })
      writeFileSync(instance.conf, nginxConf(instance, keyDir, certDir, slots))
      instance.process = spawn(
        NGINX,
        ['-p', instance.prefix, '-c', instance.conf, '-e', join(instance.prefix, 'error.log')],
        {
          stdio: 'ignore',
        },
      )
      await waitForPort(instance.port)
      instance.files = attachTicketKeyFiles(instance.schedule, {
        dir: keyDir,
        format: 'nginx',
        slots,
        hook: `${NGINX} -p ${instance.prefix} -c ${instance.conf} -e ${join(instance.prefix, 'error.log')} -s reload`,
      })
      await instance.files.sync()
    }
  })

  afterAll(async () => {
    for (const instance of instances) {
      await instance.files?.detach()
      await instance.schedule.stop()
      const child = instance.process
      if (child?.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
    }
    rmSync(dir, { recursive: true, force: true })
  })

  it.each(['TLSv1.2', 'TLSv1.3'] as const)(
    'resumes a %s ticket from instance 1 on instances 2 and 3',
    async (version) => {
      await waitForCurrentKey()
      const [one, two, three] = instances as [Instance, Instance, Instance]
      const session = join(dir, `from-1-${version}.pem`)
      const made = await sClient(one.port, version, { out: session })
      expect(made).toEqual({ reused: false, protocol: version })
      expect(ticketKeyName(session)).toBe(one.schedule.current()!.nameHex)
      for (const other of [two, three]) {
        expect(await sClient(other.port, version, { in: session })).toEqual({
          reused: true,
          protocol: version,
        })
      }
    },
  )

  it('resumes every ticket from before a rotation while its key decrypts, and none once it is retired', async () => {
    const [one, , three] = instances as [Instance, Instance, Instance]
    // A TLS 1.2 and a TLS 1.3 ticket from each instance.
    const before: Array<{ version: Version; file: string }> = []
    for (const instance of instances) {
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const file = join(dir, `before-${instance.name}-${version}.pem`)
        await sClient(instance.port, version, { out: file })
        before.push({ version, file })
      }
    }
    const oldKey = one.schedule.current()!
    const resumedEverywhere = async (): Promise<number> => {
      let resumed = 0
      for (const { version, file } of before) {
        for (const instance of instances) {
          if ((await sClient(instance.port, version, { in: file })).reused) resumed++
        }
      }
      return resumed
    }

    // The rotation: the next key (distributed 15 min ahead) encrypts, the old one moves to a decrypt
    // slot. What it costs nginx: nothing, every outstanding ticket still resumes on every instance.
    await advanceTo(one.schedule.periodStart(oldKey.period + 1))
    expect(one.files!.stats).toMatchObject({ hookFailures: 0 })
    await waitForCurrentKey()
    expect(three.schedule.current()!.nameHex).not.toBe(oldKey.nameHex)
    expect(await resumedEverywhere()).toBe(before.length * instances.length)
    // A ticket made now resumes across too.
    const after = join(dir, 'after.pem')
    await sClient(three.port, 'TLSv1.3', { out: after })
    expect(await sClient(one.port, 'TLSv1.3', { in: after })).toMatchObject({ reused: true })

    // One more rotation: the old key's decrypt lifetime (1 h after its period) is over.
    await advanceTo(oldKey.decryptUntil)
    await waitForCurrentKey()
    for (const instance of instances) {
      expect(instance.schedule.keys().some((key) => key.sameKey(oldKey))).toBe(false)
      expect(readFileSync(join(instance.prefix, 'keys', 'previous-1.key')).equals(oldKey.material)).toBe(
        false,
      )
    }
    expect(await resumedEverywhere()).toBe(0)
  })
})
