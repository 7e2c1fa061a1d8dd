import { Writable } from 'node:stream'
import {
  ADMIN_API_VERSION,
  ADMIN_API_VERSION_HEADER,
  ADMIN_PATHS,
  type DaemonStatus,
  type PeersDocument,
  type Readiness,
} from '@tlsmesh/admin-api'
import type { MeshStatus } from '@tlsmesh/mesh'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { meshFields } from '../src/admin-documents.ts'
import { changedFields, type Daemon, startDaemon } from '../src/daemon.ts'
import { readiness } from '../src/daemon-status.ts'
import { devOptions, silentLogger } from './test-daemon.ts'

function meshStatus(overrides: Partial<MeshStatus> = {}): MeshStatus {
  return {
    peerId: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
    meshName: 'default',
    listenAddrs: ['/ip4/127.0.0.1/tcp/7645'],
    connectedPeers: 2,
    peers: ['a', 'b'],
    realms: { www: { meshPeers: 2, subscribers: 2, entries: 0, bytes: 0 } },
    replica: { entries: 0, bytes: 0, evictions: 0, expirations: 0 },
    records: {
      published: 0,
      received: 0,
      stored: 0,
      messagesPublished: 0,
      messagesReceived: 0,
      rejected: 0,
      ignored: 0,
      refused: {},
      clockSkewSuspected: 0,
    },
    propagationMs: { samples: 0, p50: null, p99: null },
    sync: {
      started: 1,
      succeeded: 1,
      failed: 0,
      served: 0,
      servedCompleted: 0,
      declined: 0,
      declinedByPeer: 0,
      recordsPulled: 0,
      recordsPushed: 0,
      bytesSent: 0,
      bytesReceived: 0,
      running: false,
      lastSyncAt: 1,
      lastResult: null,
    },
    uptimeMs: 1000,
    ...overrides,
    // Cast: MeshStatus grows as the mesh does; readiness reads only the fields above.
  } as MeshStatus
}

describe('readiness', () => {
  const codes = (r: Readiness) => r.reasons.map((reason) => reason.code)

  it('is ready alone when there is no seed to join through (the first node of a fleet)', () => {
    expect(readiness(meshStatus({ connectedPeers: 0, peers: [] }), { seeds: 0 })).toEqual({
      ready: true,
      reasons: [],
    })
  })

  it('is not ready alone when seeds are configured', () => {
    const r = readiness(meshStatus({ connectedPeers: 0, peers: [] }), { seeds: 2 })
    expect(r.ready).toBe(false)
    expect(codes(r)).toEqual(['no-peers'])
  })

  const realm = (meshPeers: number, subscribers: number) => ({ meshPeers, subscribers, entries: 0, bytes: 0 })

  it('needs a gossip mesh peer in every realm a connected peer serves', () => {
    const r = readiness(meshStatus({ realms: { www: realm(1, 1), api: realm(0, 2) } }), { seeds: 1 })
    expect(r.ready).toBe(false)
    expect(r.reasons).toEqual([
      expect.objectContaining({
        code: 'no-mesh-peers',
        realm: 'api',
        message: expect.stringContaining('2 peer'),
      }),
    ])
  })

  it('leaves out a realm no connected peer serves (a --ticket-keys realm next to peers without it)', () => {
    const status = meshStatus({ realms: { www: realm(2, 2), 'www.tickets': realm(0, 0) } })
    expect(readiness(status, { seeds: 1 })).toEqual({ ready: true, reasons: [] })
    const api = readiness(meshStatus({ realms: { www: realm(1, 1), api: realm(0, 0) } }), { seeds: 1 })
    expect(api).toEqual({ ready: true, reasons: [] })
  })

  it("waits in every realm while no peer's subscriptions are known", () => {
    const r = readiness(meshStatus({ realms: { www: realm(0, 0), 'www.tickets': realm(0, 0) } }), {
      seeds: 1,
    })
    expect(r.reasons.map((reason) => [reason.code, reason.realm])).toEqual([
      ['no-mesh-peers', 'www'],
      ['no-mesh-peers', 'www.tickets'],
    ])
  })

  it('waits for the first catch-up once it has peers', () => {
    const base = meshStatus()
    const r = readiness({ ...base, sync: { ...base.sync, succeeded: 0, running: true } }, { seeds: 0 })
    expect(codes(r)).toEqual(['catch-up-pending'])
    expect(r.reasons[0]?.message).toContain('running')
    expect(readiness(base, { seeds: 3 }).ready).toBe(true)
    // A reconciliation a peer started with it, run to the end, is a catch-up too (its own was declined).
    const served = { ...base.sync, succeeded: 0, declinedByPeer: 1, served: 1, servedCompleted: 1 }
    expect(readiness({ ...base, sync: served }, { seeds: 1 }).ready).toBe(true)
  })
})

describe('meshFields', () => {
  it("copies the mesh's status into the contract, and nothing the contract does not name", () => {
    const base = meshStatus({ broadcast: null })
    const lastResult = { peer: 'a', durationMs: 5, rounds: 2, pushed: 1, pulled: 3, differingRanges: 1 }
    const grown = {
      ...base,
      internalQueue: 7,
      records: { ...base.records, refused: { 'nothing-new': 2 }, internalCount: 1 },
      sync: { ...base.sync, lastResult: { ...lastResult, internalTrace: ['x'] } },
    } as MeshStatus
    const fields = meshFields(grown)
    expect(fields).toEqual({
      ...base,
      records: { ...base.records, refused: { 'nothing-new': 2 } },
      sync: { ...base.sync, lastResult },
    })
    expect(JSON.stringify(fields)).not.toContain('internal')
  })
})

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('admin endpoints and reload on a two-node mesh', () => {
  let first: Daemon
  let second: Daemon
  let lonely: Daemon
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(_chunk, _encoding, done) {
        done()
      },
    }),
  )
  const url = (d: Daemon, path: string) => `http://${d.adminAddress.host}:${d.adminAddress.port}${path}`
  const json = async <T>(d: Daemon, path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(url(d, path))
    return { status: res.status, body: (await res.json()) as T }
  }

  beforeAll(async () => {
    first = await startDaemon(devOptions({ realms: ['www', 'api'] }), silentLogger)
    second = await startDaemon(
      devOptions({ realms: ['www', 'api'], seeds: [first.mesh.multiaddrs()[0]!] }),
      logger,
    )
    lonely = await startDaemon(devOptions({ realms: ['www', 'api'] }), silentLogger)
  })
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop(), lonely?.stop()])
  })

  it('/readyz: 200 alone with no seeds; with a seed, 200 once in the mesh of every realm and caught up', async () => {
    const alone = await json<Readiness>(lonely, '/readyz')
    expect(alone).toEqual({ status: 200, body: { ready: true, reasons: [] } })
    const ready = await until('the seeded node to be ready', async () => {
      const r = await json<Readiness>(second, '/readyz')
      return r.status === 200 ? r : undefined
    })
    expect(ready.body.ready).toBe(true)
  })

  it('/readyz: 503 with the reasons as JSON while not ready', async () => {
    const unreachable = await startDaemon(
      devOptions({
        seeds: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'],
      }),
      silentLogger,
    )
    try {
      const r = await json<Readiness>(unreachable, '/readyz')
      expect(r.status).toBe(503)
      expect(r.body.ready).toBe(false)
      expect(r.body.reasons[0]).toMatchObject({ code: 'no-peers', message: expect.stringContaining('seed') })
    } finally {
      await unreachable.stop()
    }
  })

  it('/status carries the documented extras: schema, D/Dlo/Dhi, replica budget, readiness', async () => {
    const { status, body } = await json<DaemonStatus>(second, '/status')
    expect(status).toBe(200)
    expect(body).toMatchObject({
      schema: 1,
      meshDegree: { D: 6, Dlo: 4, Dhi: 12 },
      replicaLimits: { maxBytesPerRealm: 64 * 1024 * 1024, maxEntriesPerRealm: 100_000 },
      memcache: null,
      seeds: 1,
      logLevel: 'info',
      transportThread: false,
      readiness: { ready: true },
    })
    expect(typeof body.time).toBe('number')
  })

  it("serves the documents in this version: a header on every answer, the contract's fields only", async () => {
    for (const path of Object.values(ADMIN_PATHS)) {
      const res = await fetch(url(second, path))
      await res.text()
      expect(res.headers.get(ADMIN_API_VERSION_HEADER), path).toBe(String(ADMIN_API_VERSION))
    }
    const { body } = await json<DaemonStatus>(second, '/status')
    expect(body.schema).toBe(ADMIN_API_VERSION)
    expect(Object.keys(body)).toEqual([
      ...['schema', 'version', 'time', 'peerId', 'meshName', 'listenAddrs', 'connectedPeers', 'peers'],
      ...['realms', 'replica', 'records', 'propagationMs', 'sync', 'broadcast', 'uptimeMs', 'meshDegree'],
      ...['replicaLimits', 'memcache', 'seeds', 'logLevel', 'transportThread', 'ticketKeys', 'readiness'],
    ])
  })

  it('/peers lists each peer with direction, mesh membership per realm and score', async () => {
    const { status, body } = await json<PeersDocument>(second, '/peers')
    expect(status).toBe(200)
    expect(body.peerId).toBe(second.mesh.peerId.toString())
    expect(body.realms).toEqual(['www', 'api'])
    const peer = body.peers.find((p) => p.peerId === first.mesh.peerId.toString())
    expect(peer).toMatchObject({
      direction: 'outbound',
      meshRealms: ['www', 'api'],
      subscribedRealms: ['www', 'api'],
    })
    expect(peer?.addresses.length).toBeGreaterThan(0)
    expect(typeof peer?.score).toBe('number')
    const back = (await json<PeersDocument>(first, '/peers')).body.peers.find(
      (p) => p.peerId === second.mesh.peerId.toString(),
    )
    expect(back?.direction).toBe('inbound')
  })

  it('/metrics has the per-realm gauges, readiness and reloads, with bounded labels', async () => {
    const text = await (await fetch(url(second, '/metrics'))).text()
    expect(text).toMatch(/^tlsmesh_realm_mesh_peers\{realm="www"\} 1$/m)
    expect(text).toMatch(/^tlsmesh_realm_replica_budget_bytes\{realm="www"\} 67108864$/m)
    expect(text).toMatch(/^tlsmesh_realm_replica_budget_bytes\{realm="api"\} 67108864$/m)
    expect(text).toMatch(/^tlsmesh_daemon_ready 1$/m)
    expect(text).toMatch(/^tlsmesh_daemon_reloads_total\{result="applied"\} \d+$/m)
    // The two nodes met and reconciled: whichever started the session that ran counts it (when both
    // start one at once, the node with the lower peer id serves the other's and declines its own).
    const succeeded = async (d: Daemon): Promise<number> => {
      const metrics = await (await fetch(url(d, '/metrics'))).text()
      const line = /^tlsmesh_sync_reconciliations_total\{result="succeeded"\} (\d+)$/m.exec(metrics)
      expect(line, 'the succeeded reconciliations counter').not.toBeNull()
      return Number(line![1])
    }
    expect((await succeeded(first)) + (await succeeded(second))).toBeGreaterThanOrEqual(1)
  })

  it('reload applies a new log level to every module at once, and says what needs a restart', async () => {
    const child = logger.child({ module: 'some-component' })
    expect(child.isLevelEnabled('debug')).toBe(false)
    const result = second.reload({ ...second.options, logLevel: 'debug', realms: ['www'] })
    expect(result.applied).toEqual(['log-level'])
    expect(result.needsRestart).toEqual(['realms'])
    expect(child.isLevelEnabled('debug')).toBe(true)
    // What needs a restart is not pretended applied.
    expect(second.options.realms).toEqual(['www', 'api'])
    expect((await json<DaemonStatus>(second, '/status')).body.logLevel).toBe('debug')
    second.reload({ ...second.options, logLevel: 'info' })
    expect(child.isLevelEnabled('debug')).toBe(false)
  })

  it('reload dials new seeds and keeps the replica', async () => {
    lonely.mesh.cache.set('www', Buffer.from('kept'), Buffer.from('v'), 60_000)
    const result = lonely.reload({ ...lonely.options, seeds: [first.mesh.multiaddrs()[0]!] })
    expect(result.applied).toEqual(['seeds'])
    expect(result.seedsAdded).toHaveLength(1)
    await until('the reloaded node to reach its new seed', async () =>
      lonely.mesh.status().connectedPeers > 0 ? true : undefined,
    )
    const kept = lonely.mesh.cache.get('www', Buffer.from('kept'))?.value
    expect(kept !== undefined && Buffer.from(kept).toString()).toBe('v')
  })

  it('/readyz: a realm only this node serves (its --ticket-keys realm) does not hold it back', async () => {
    const keeper = await startDaemon(
      devOptions({
        realms: ['www'],
        seeds: [first.mesh.multiaddrs()[0]!],
        ticketKeys: { realms: ['www'], rotationMs: 3_600_000, decryptLifetimeMs: 3_600_000 },
      }),
      silentLogger,
    )
    try {
      const status = await until('the key keeper to be in the mesh of www', async () => {
        const s = keeper.mesh.status()
        return (s.realms.www?.meshPeers ?? 0) > 0 ? s : undefined
      })
      expect(status.realms['www.tickets']).toMatchObject({ subscribers: 0, meshPeers: 0 })
      const r = await json<Readiness>(keeper, '/readyz')
      expect(r.body.reasons.filter((reason) => reason.code === 'no-mesh-peers')).toEqual([])
    } finally {
      await keeper.stop()
    }
  })

  it('changedFields: nothing for equal options, the field names otherwise', () => {
    const a = devOptions()
    expect(changedFields(a, { ...a })).toEqual([])
    expect(changedFields(a, { ...a, mdns: true, logLevel: 'warn' })).toEqual(['mdns', 'logLevel'])
  })
})
