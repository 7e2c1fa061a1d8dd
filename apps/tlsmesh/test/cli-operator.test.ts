import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Daemon, startDaemon } from '../../tlsmeshd/src/daemon.ts'
import { devOptions, silentLogger } from '../../tlsmeshd/test/test-daemon.ts'

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..')

function tlsmesh(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['apps/tlsmesh/bin/tlsmesh.js', ...args],
      { cwd: ROOT, timeout: 15_000, env: { ...process.env, NO_COLOR: '', ...env } },
      (err, stdout, stderr) => {
        done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
      },
    )
  })
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
  const { port } = server.address() as { port: number }
  await new Promise((closed) => server.close(closed))
  return port
}

let dir: string
let first: Daemon
let second: Daemon
const adminOf = (d: Daemon) => `${d.adminAddress.host}:${d.adminAddress.port}`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlsmesh-cli-operator-'))
  first = await startDaemon(devOptions({ realms: ['www'] }), silentLogger)
  second = await startDaemon(
    devOptions({ realms: ['www'], seeds: [first.mesh.multiaddrs()[0]!] }),
    silentLogger,
  )
  const deadline = Date.now() + 15_000
  while (second.mesh.status().realms.www?.meshPeers !== 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
  }
})
afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop()])
  await rm(dir, { recursive: true, force: true })
})

describe('tlsmesh keygen --identity', () => {
  it('writes an owner-only identity, prints its peer id, and refuses to replace it without --force', async () => {
    const out = join(dir, 'identity.key')
    const made = await tlsmesh(['keygen', '--identity', '--out', out])
    expect(made.code).toBe(0)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    const peerId = peerIdFromPrivateKey(await loadOrCreateIdentity(out)).toString()
    expect(made.stdout).toBe(`${peerId}\n`)
    const again = await tlsmesh(['keygen', '--identity', '--out', out])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('--force')
    const before = await readFile(out)
    const forced = await tlsmesh(['keygen', '--identity', '--out', out, '--force'])
    expect(forced.code).toBe(0)
    expect(forced.stdout.trim()).not.toBe(peerId)
    expect(await readFile(out)).not.toEqual(before)
  })
})

describe('tlsmesh peers', () => {
  it('lists the peer with its direction and gossip mesh realms; --json for machines', async () => {
    const text = await tlsmesh(['peers', '--admin', adminOf(second)])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(
      new RegExp(`^${first.mesh.peerId.toString()} +outbound +\\S+ +\\S+ +www$`, 'm'),
    )
    const json = await tlsmesh(['peers', '--json', '--admin', adminOf(first)])
    const doc = JSON.parse(json.stdout)
    expect(doc.peers).toEqual([
      expect.objectContaining({
        peerId: second.mesh.peerId.toString(),
        direction: 'inbound',
        meshRealms: ['www'],
      }),
    ])
  })

  it('exits 3 when the daemon cannot be reached, and takes TLSMESH_ADMIN as the default', async () => {
    const port = await closedPort()
    const run = await tlsmesh(['peers'], { TLSMESH_ADMIN: `127.0.0.1:${port}` })
    expect(run.code).toBe(3)
    expect(run.stderr).toContain(`cannot reach tlsmeshd at 127.0.0.1:${port}`)
  })
})

describe('tlsmesh status', () => {
  it('says whether the node is ready and shows the gossip mesh targets', async () => {
    const run = await tlsmesh(['status', '--admin', adminOf(second)])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/up \d+s +ready$/m)
    expect(run.stdout).toContain('mesh degree target D 6, Dlo 4, Dhi 12')
  })
})

describe('tlsmesh watch --once', () => {
  it('prints one plain frame (not a terminal: no escape codes) and exits 0 when every node answers', async () => {
    const run = await tlsmesh(['watch', '--once', '--admin', adminOf(first), '--admin', adminOf(second)])
    expect(run.code).toBe(0)
    expect(run.stdout).not.toContain('\x1b')
    expect(run.stdout).toContain('2 nodes, 2 up')
    for (const line of run.stdout.split('\n')) expect([...line].length).toBeLessThanOrEqual(80)
  })

  it('exits 1 when some node is down, 3 when every one is, and --json says which', async () => {
    const port = await closedPort()
    const some = await tlsmesh([
      'watch',
      '--once',
      '--json',
      '--admin',
      adminOf(first),
      '--admin',
      `127.0.0.1:${port}`,
    ])
    expect(some.code).toBe(1)
    const views = JSON.parse(some.stdout)
    expect(views.map((v: { state: string }) => v.state)).toEqual(['up', 'down'])
    expect(views[1].error).toBe('connection refused')
    const none = await tlsmesh(['watch', '--once', '--admin', `127.0.0.1:${port}`])
    expect(none.code).toBe(3)
    expect(none.stdout).toContain('DOWN')
  })

  it('refuses a bad interval or admin address as a usage error', async () => {
    expect((await tlsmesh(['watch', '--interval', '5'])).code).toBe(2)
    const bad = await tlsmesh(['watch', '--admin', 'localhost'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--admin: expected HOST:PORT')
  })
})
