import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Endpoint, startEndpoint } from './endpoint-fixture.ts'
import { RawConnection } from './raw-clients.ts'

/**
 * What a local attacker can do to the endpoint: hold its slots, hold them silently, or connect to
 * the loopback port as another user. Real sockets on loopback, the endpoint's own metrics.
 */

const run = promisify(execFile)
const endpoints: Endpoint[] = []
const open: RawConnection[] = []

async function start(options: Parameters<typeof startEndpoint>[0]): Promise<Endpoint> {
  const ep = await startEndpoint(options)
  endpoints.push(ep)
  return ep
}

async function connect(target: number | string): Promise<RawConnection> {
  const conn = await RawConnection.open(target)
  open.push(conn)
  return conn
}

afterEach(async () => {
  for (const conn of open.splice(0)) conn.close()
  for (const ep of endpoints.splice(0)) await ep.close()
})

const refused = (ep: Endpoint, listener: string, reason: string): Promise<number> =>
  ep.metric('tlsmesh_memcache_connections_refused_total', { listener, reason })

async function roundTrip(conn: RawConnection, key: string): Promise<void> {
  conn.send(`set ${key} 0 0 2\r\nok\r\nget ${key}\r\n`)
  expect(await conn.line()).toBe('STORED')
  expect(await conn.retrieval()).toBe(`VALUE ${key} 0 2\r\nok\r\nEND\r\n`)
}

describe('connection limits per listener', () => {
  it('idle TCP connections beyond the TCP limit do not keep a unix-socket client out', async () => {
    const ep = await start({ socket: true, init: { maxTcpConnections: 20, maxSocketConnections: 5 } })
    await Promise.all(Array.from({ length: 40 }, () => connect(ep.port)))
    await expect.poll(() => refused(ep, 'tcp', 'connection-limit')).toBe(20)
    await roundTrip(await connect(ep.socketPath!), 'apache')
    expect(await ep.metric('tlsmesh_memcache_connections', { listener: 'tcp' })).toBe(20)
    expect(await ep.metric('tlsmesh_memcache_connections', { listener: 'unix' })).toBe(1)
    expect(await refused(ep, 'unix', 'connection-limit')).toBe(0)
  })

  it('the socket has its own limit too, and filling it leaves the TCP port usable', async () => {
    const ep = await start({ socket: true, init: { maxTcpConnections: 20, maxSocketConnections: 5 } })
    await Promise.all(Array.from({ length: 8 }, () => connect(ep.socketPath!)))
    await expect.poll(() => refused(ep, 'unix', 'connection-limit')).toBe(3)
    await roundTrip(await connect(ep.port), 'h2o')
    expect(await refused(ep, 'tcp', 'connection-limit')).toBe(0)
  })
})

describe('first-command deadline', () => {
  it('closes connections that send no whole command in time, and only those', async () => {
    const ep = await start({ socket: true, init: { firstCommandTimeoutMs: 200 } })
    const silent = await connect(ep.port)
    const silentOnSocket = await connect(ep.socketPath!)
    // Half a command line is not a command: trickling bytes does not hold the slot either.
    const trickling = await connect(ep.port)
    trickling.send('get sess')
    const active = await connect(ep.port)
    active.send('version\r\n')
    expect(await active.line()).toMatch(/^VERSION /)
    await Promise.all([silent, silentOnSocket, trickling].map((conn) => conn.waitClosed(10_000)))
    expect(await ep.metric('tlsmesh_memcache_errors_total', { reason: 'first-command-timeout' })).toBe(3)
    expect(silent.buffered.length + trickling.buffered.length).toBe(0)
    // Opened with the others, so past its deadline too: a client that spoke keeps its connection.
    expect(active.closed).toBe(false)
    await roundTrip(active, 'still-open')
  })
})

const TEST_USER = `tlsmesh-test-${process.pid}`

/** Why the tests as another user cannot run here, or undefined when they can. */
function otherUserSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux only (/proc/net/tcp)'
  if (process.getuid?.() !== 0) return 'needs root to create a user and run a client as it'
  for (const tool of ['useradd', 'userdel', 'setpriv', 'getent']) {
    const probe = spawnSync('sh', ['-c', `command -v ${tool}`])
    if (probe.status !== 0) return `${tool} is not installed`
  }
  return undefined
}

const skipReason = otherUserSkipReason()

/**
 * A client run as `user` (setpriv, no supplementary groups) that sends a store, a get and `quit`,
 * and prints what came back before the connection closed (the server closes it either way).
 */
async function clientAs(user: { uid: number; gid: number }, port: number): Promise<string> {
  const script = `
    const socket = require('node:net').connect({ host: '127.0.0.1', port: Number(process.argv[1]) })
    let text = ''
    socket.on('data', (chunk) => { text += chunk.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => process.stdout.write(JSON.stringify(text)))
    socket.write('set stolen 0 0 6\\r\\nsecret\\r\\nget probe\\r\\nquit\\r\\n')
    setTimeout(() => { process.stderr.write('connection still open after 5 s'); process.exit(3) }, 5000).unref()
  `
  const args = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--']
  const { stdout } = await run('setpriv', [...args, process.execPath, '-e', script, String(port)], {
    cwd: '/',
    timeout: 15_000,
  })
  return JSON.parse(stdout) as string
}

describe.skipIf(skipReason !== undefined)(
  `allowUids: TCP clients of other users${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let user: { uid: number; gid: number }

    beforeAll(async () => {
      await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', TEST_USER])
      const { stdout } = await run('getent', ['passwd', TEST_USER])
      const [, , uid, gid] = stdout.trim().split(':')
      user = { uid: Number(uid), gid: Number(gid) }
    })

    afterAll(async () => {
      await run('userdel', [TEST_USER]).catch(() => undefined)
    })

    it('a client of a user not allowed is closed before anything is read; an allowed one is served', async () => {
      const ep = await start({ init: { allowUids: [0] } })
      expect(await clientAs(user, ep.port)).toBe('')
      expect(await refused(ep, 'tcp', 'user-not-allowed')).toBe(1)
      expect(await ep.metric('tlsmesh_memcache_commands_total')).toBe(0)
      // Root is allowed here: served, and the other user's store never happened.
      const root = await connect(ep.port)
      root.send('get stolen\r\n')
      expect(await root.retrieval()).toBe('END\r\n')
      expect(await refused(ep, 'tcp', 'owner-unknown')).toBe(0)
    })

    it('the allowlist names users, not "root or not": the other user allowed, root refused', async () => {
      const ep = await start({ init: { allowUids: [user.uid] } })
      expect(await clientAs(user, ep.port)).toBe('STORED\r\nEND\r\n')
      const root = await connect(ep.port)
      root.send('get stolen\r\n')
      await root.waitClosed()
      expect(root.buffered.length).toBe(0)
      expect(await refused(ep, 'tcp', 'user-not-allowed')).toBe(1)
      expect(await ep.metric('tlsmesh_memcache_commands_total', { command: 'get' })).toBe(1)
    })
  },
)
