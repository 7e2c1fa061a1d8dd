// Seeds without peer ids, with real tlsmeshd processes: a fleet that comes and goes (an autoscaling
// group, a DaemonSet behind a headless service) knows its seeds' addresses or a DNS name, not their
// peer ids. One node is seeded only by `127.0.0.1:PORT`, one by `localhost:PORT`, and one by a name
// this machine resolves from /etc/hosts (`tlsmesh-seed.test`, added here and removed after) that at
// first points only at an address where nobody listens: it stays alone until the name also points
// at the seed, which it notices at a redial because the name is resolved again each time. All of
// them join and replicate a record written through any one of them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onInterrupt, waitUntil } from './lib/managed-process.ts'
import { memcachedCommand } from './lib/memcached-text.ts'
import { createMeshKey, startTlsmeshd, type Tlsmeshd } from './lib/tlsmeshd-fleet.ts'

const HOSTS = '/etc/hosts'
const NAME = 'tlsmesh-seed.test'
const MARK = '# tlsmesh e2e seed-by-address'
const REALM = 'www'

/** Adds `ip NAME` to /etc/hosts (one line per call, marked) or, with no ip, removes every marked line. */
function hostsEntry(ip?: string): void {
  const kept = readFileSync(HOSTS, 'utf8')
    .split('\n')
    .filter((line) => ip !== undefined || !line.endsWith(MARK))
  while (kept.length > 0 && kept.at(-1) === '') kept.pop()
  if (ip !== undefined) kept.push(`${ip} ${NAME} ${MARK}`)
  writeFileSync(HOSTS, `${kept.join('\n')}\n`)
}

const memcached = memcachedCommand

describe('seeds by address and by name, without peer ids', () => {
  let dir: string
  let meshKeyFile: string
  let removeHostsEntry: () => void
  const nodes: Tlsmeshd[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-seed-address-'))
    meshKeyFile = join(dir, 'mesh.key')
    await createMeshKey(meshKeyFile)
    removeHostsEntry = onInterrupt(() => hostsEntry())
  })
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()))
    removeHostsEntry?.()
    rmSync(dir, { recursive: true, force: true })
  })

  it('joins through 127.0.0.1:PORT, localhost:PORT and a name resolved again at each redial, and replicates', async () => {
    const seed = await startTlsmeshd({ name: 'seed', meshKeyFile, realm: REALM, memcacheTcp: true })
    nodes.push(seed)
    const seedId = (await seed.status()).peerId
    const port = Number(/\/tcp\/(\d+)\//.exec(seed.multiaddr)![1])

    // The name points at a host that is gone (nothing listens on 127.0.0.2): the first dials fail.
    hostsEntry('127.0.0.2')
    const joiners = await Promise.all([
      startTlsmeshd({
        name: 'by-ip',
        meshKeyFile,
        realm: REALM,
        memcacheTcp: true,
        seeds: [`127.0.0.1:${port}`],
      }),
      startTlsmeshd({
        name: 'by-localhost',
        meshKeyFile,
        realm: REALM,
        memcacheTcp: true,
        seeds: [`localhost:${port}`],
      }),
      startTlsmeshd({
        name: 'by-name',
        meshKeyFile,
        realm: REALM,
        memcacheTcp: true,
        seeds: [`/dns4/${NAME}/tcp/${port}`],
        // Its seed dials are at debug: the test reads that both addresses of the name were dialed.
        extraArgs: ['--log-level', 'debug', '--log-format', 'json'],
      }),
    ])
    nodes.push(...joiners)
    const [byIp, byLocalhost, byName] = joiners as [Tlsmeshd, Tlsmeshd, Tlsmeshd]

    for (const node of [byIp, byLocalhost]) {
      await waitUntil(
        `${node.name} to reach the seed`,
        async () => ((await node.status()).peers.includes(seedId) ? true : undefined),
        { timeoutMs: 20_000, intervalMs: 100 },
      )
    }
    // Alone for now: no seed at 127.0.0.2, and nobody else knows its address.
    await byName.process.waitForOutput(/"addr":"\/ip4\/127\.0\.0\.2\/tcp\/\d+".*seed dial failed/, 15_000)
    expect((await byName.status()).connectedPeers).toBe(0)

    // The name gains the seed's address (a new pod behind a headless service): a redial finds it.
    hostsEntry('127.0.0.1')
    const started = Date.now()
    await waitUntil(
      'by-name to reach the seed after the name changed',
      async () => ((await byName.status()).peers.includes(seedId) ? true : undefined),
      { timeoutMs: 40_000, intervalMs: 100 },
    )
    const joinedAfterMs = Date.now() - started
    // Retries wait at most 1, 2, 4, 8, 16, then 30 s (jittered): a few failures before the change.
    expect(joinedAfterMs).toBeLessThan(35_000)

    // Everyone in the realm's mesh, then a record written on one node is read on every other.
    await waitUntil(
      'all four in the realm mesh',
      async () => {
        const statuses = await Promise.all(nodes.map((node) => node.status()))
        return statuses.every((s) => s.connectedPeers >= 1 && (s.realms[REALM]?.meshPeers ?? 0) >= 1)
          ? true
          : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const value = 'resumable-session-bytes'
    const stored = await memcached(
      byName.memcachePort!,
      `set seed-test 0 300 ${value.length}\r\n${value}\r\n`,
      /\r\n$/,
    )
    expect(stored).toBe('STORED\r\n')
    for (const node of [seed, byIp, byLocalhost]) {
      await waitUntil(
        `the record on ${node.name}`,
        async () => {
          const reply = await memcached(node.memcachePort!, 'get seed-test\r\n', /END\r\n$/)
          return reply.includes(value) ? reply : undefined
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      )
    }
    console.log(
      `seed-by-address: by-name joined ${joinedAfterMs} ms after its name gained the seed's address`,
    )
  }, 150_000)
})
