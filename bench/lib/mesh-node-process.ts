// One node in its own process, driven over IPC by the benchmarks: a tlsmesh node (mode "gossip") or
// the full-mesh push baseline (mode "push"). Publishes records at a given rate, records when each
// record arrives, and reports status, CPU, memory and bytes on the wire; optionally serves its
// replica on a memcached endpoint, resumes TLS 1.2 sessions from it (Node's tls with the adapter, as an
// embedding server does) and reports its event-loop delay over windows (bench/stall.ts).
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { parentPort } from 'node:worker_threads'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { createMemcacheServer, type MemcacheServer } from '@tlsmesh/memcache'
import { createMeshNode, type MeshNode, type MeshNodeInit, realClock } from '@tlsmesh/mesh'
import { attachSessionCache, sessionResumptionOptions } from '@tlsmesh/node-tls'
import type { SessionRecord } from '@tlsmesh/store'
import type { Registry } from 'prom-client'
import { type LoopDelayWindow, loopDelayWindow } from './loop-delay.ts'
import { memcacheKey } from './memcache-keys.ts'
import { createPushNode, type PushNode } from './push-node.ts'
import { mirrorReplica } from './replica-mirror.ts'

export interface MeshNodeConfig {
  mode?: 'gossip' | 'push'
  meshKeyFile: string
  seeds: string[]
  realms: string[]
  gossip?: MeshNodeInit['gossip']
  maxEntriesPerRealm?: number
  /** Default 1 GiB. */
  maxBytesPerRealm?: number
  /** Anti-entropy with one random peer this often (the mesh's default if absent). */
  syncIntervalMs?: number
  /** Serve this realm of the replica on a memcached endpoint on 127.0.0.1 (port 0: a free one). */
  memcache?: { port: number; realm: string }
  /**
   * Serve TLS 1.2 on 127.0.0.1 (a free port) with session-id resumption from this realm of the
   * replica, as a Node server embedding the mesh does.
   */
  tls?: { realm: string; certFile: string; keyFile: string }
  /** The node's identity: a libp2p private key in protobuf form, hex. */
  privateKeyHex?: string
  allowPeers?: string[]
  /** Added to this node's clock (fault tests: a node whose clock is off). */
  clockOffsetMs?: number
  dissemination?: MeshNodeInit['dissemination']
  maxEagerPeers?: number
  /**
   * Run the node as a split process (bench/lib/split-node-process.ts): the mesh on a worker thread,
   * the memcached endpoint and TLS server on a replica of the main thread's.
   */
  split?: boolean
  /**
   * On a worker thread: keep the parent thread's replica like this one, and publish the records it
   * writes (split-node-process.ts).
   */
  mirrorToParent?: boolean
  /** A split node's mesh thread runs at this nice value (split-mesh-worker.ts). */
  meshNice?: number
  /**
   * The mesh's transport on a thread of its own (createMeshNode's transportThread): the replica,
   * the memcached endpoint and the TLS server stay on the main thread. Without libp2p's metrics (no
   * bytes on the wire) and with the real clock.
   */
  transportThread?: boolean
}

interface PublishCommand {
  type: 'publish'
  realm: string
  count: number
  ratePerSecond: number
  valueBytes: number
  /** Records per burst (one batch); default: whatever 5 ms of the rate makes. */
  burst?: number
  /** Default 300 s. */
  ttlMs?: number
  /**
   * Ids are the load generator's memcached keys from this index on (see memcache-keys.ts), so that
   * its gets hit, instead of random (and not remembered for `arrivals`). Gossip mode only.
   */
  keyFrom?: number
}

const config = JSON.parse(process.argv[2] ?? '{}') as MeshNodeConfig
const offset = config.clockOffsetMs ?? 0
const now = (): number => Date.now() + offset
const meshKey = readFileSync(config.meshKeyFile)
/** Arrival time of each record, by the hex of its first 8 id bytes, per realm. */
const arrivals = new Map<string, Map<string, number>>()
const onRecordReceived = (realm: string, id: Uint8Array, _created: number, receivedAt: number): void => {
  let byId = arrivals.get(realm)
  if (byId === undefined) {
    byId = new Map()
    arrivals.set(realm, byId)
  }
  byId.set(Buffer.from(id.subarray(0, 8)).toString('hex'), receivedAt)
}

let mesh: MeshNode | undefined
let push: PushNode | undefined
let registry: Registry
if (config.mode === 'push') {
  push = await createPushNode({ meshKey, realms: config.realms, now: Date.now, onRecordReceived })
  registry = push.registry
} else {
  mesh = await createMeshNode(
    {
      meshKey,
      seeds: config.seeds,
      realms: config.realms,
      ...(config.gossip !== undefined ? { gossip: config.gossip } : {}),
      ...(config.privateKeyHex !== undefined
        ? { privateKey: privateKeyFromProtobuf(Buffer.from(config.privateKeyHex, 'hex')) }
        : {}),
      ...(config.allowPeers !== undefined ? { allowPeers: config.allowPeers } : {}),
      ...(config.dissemination !== undefined ? { dissemination: config.dissemination } : {}),
      ...(config.maxEagerPeers !== undefined ? { maxEagerPeers: config.maxEagerPeers } : {}),
      ...(config.syncIntervalMs !== undefined ? { syncIntervalMs: config.syncIntervalMs } : {}),
      libp2pMetrics: config.transportThread !== true,
      ...(config.transportThread === true ? { transportThread: true } : {}),
      store: {
        maxEntriesPerRealm: config.maxEntriesPerRealm ?? 500_000,
        maxBytesPerRealm: config.maxBytesPerRealm ?? 1 << 30,
      },
    },
    { onRecordReceived, ...(offset !== 0 ? { clock: { ...realClock, now } } : {}) },
  )
  await mesh.start()
  registry = mesh.registry
  if (config.mirrorToParent === true && parentPort !== null)
    mirrorReplica(mesh.store, parentPort, 'local', now)
}
let memcache: MemcacheServer | undefined
if (config.memcache !== undefined && mesh !== undefined) {
  memcache = createMemcacheServer(
    { host: '127.0.0.1', port: config.memcache.port, realm: config.memcache.realm, version: 'bench' },
    { cache: mesh.cache, now },
  )
  await memcache.start()
}
let tlsServer: TlsServer | undefined
if (config.tls !== undefined && mesh !== undefined) {
  tlsServer = createTlsServer(
    {
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      ...sessionResumptionOptions({ sessionIdContext: 'bench' }),
    },
    (socket) => socket.end(),
  )
  attachSessionCache(tlsServer, mesh.cache, { realm: config.tls.realm })
  await new Promise<void>((resolve) => tlsServer!.listen(0, '127.0.0.1', resolve))
}
/**
 * Made on the first `loop-delay` request (bench/stall.ts): its 1 ms timer wakes the loop a thousand
 * times a second, about 15 ms of CPU a second on this host, which every other bench would count.
 */
let loopDelay: LoopDelayWindow | undefined

/** What was published here: id prefix -> created. */
const published = new Map<string, Map<string, number>>()

function makeRecord(realm: string, value: Uint8Array): SessionRecord {
  const id = randomBytes(32)
  const created = now()
  let byId = published.get(realm)
  if (byId === undefined) {
    byId = new Map()
    published.set(realm, byId)
  }
  byId.set(id.subarray(0, 8).toString('hex'), created)
  return { realm, id, value, created, expires: created + 300_000, origin: 'bench' }
}

/** Publishes `count` records evenly over time in bursts; resolves when the last is handed over. */
async function publish(command: PublishCommand): Promise<number> {
  const started = performance.now()
  const value = randomBytes(command.valueBytes)
  const burst = command.burst ?? Math.max(1, Math.round(command.ratePerSecond / 200))
  const ttlMs = command.ttlMs ?? 300_000
  const { keyFrom } = command
  let sent = 0
  while (sent < command.count) {
    const n = Math.min(burst, command.count - sent)
    if (keyFrom !== undefined) {
      for (let i = 0; i < n; i++) {
        mesh!.cache.set(command.realm, Buffer.from(memcacheKey(keyFrom + sent + i)), value, ttlMs)
      }
    } else {
      const records = Array.from({ length: n }, () => makeRecord(command.realm, value))
      if (push !== undefined) {
        for (const r of records) push.store.merge(r, Date.now())
        push.publish(records)
      } else {
        for (const r of records) mesh!.cache.set(command.realm, r.id, value, ttlMs)
      }
    }
    sent += n
    const due = started + (sent / command.ratePerSecond) * 1000
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())))
  }
  mesh?.flush()
  return performance.now() - started
}

async function wireBytes(): Promise<{ sent: number; received: number; byProtocol: Record<string, number> }> {
  const metric = registry.getSingleMetric('libp2p_data_transfer_bytes_total')
  const byProtocol: Record<string, number> = {}
  for (const value of (await metric?.get())?.values ?? [])
    byProtocol[String(value.labels.protocol)] = value.value
  return { sent: byProtocol['global sent'] ?? 0, received: byProtocol['global received'] ?? 0, byProtocol }
}

/** An IPC command; each is answered with a message of its type. */
interface Command {
  type: string
  realm?: string
  addrs?: string[]
  name?: string
  action?: 'start' | 'report'
  peers?: string[] | null
  addr?: string
}

process.on('message', (message: Command) => {
  if (message.type === 'status') {
    void wireBytes().then((bytes) =>
      process.send?.({
        type: 'status',
        mesh: mesh?.status() ?? null,
        received: push?.received ?? mesh?.status().records.stored ?? 0,
        connections: mesh !== undefined ? mesh.status().connectedPeers : push!.libp2p.getConnections().length,
        cpu: process.cpuUsage(),
        memory: process.memoryUsage(),
        bytes,
      }),
    )
  } else if (message.type === 'publish') {
    publish(message as PublishCommand).then((elapsedMs) => process.send?.({ type: 'published', elapsedMs }))
  } else if (message.type === 'connect') {
    push!.connectAll(message.addrs ?? []).then(
      () => process.send?.({ type: 'connect' }),
      (err: Error) => process.send?.({ type: 'connect', error: err.message }),
    )
  } else if (message.type === 'arrivals') {
    const realm = message.realm ?? ''
    process.send?.({
      type: 'arrivals',
      arrivals: [...(arrivals.get(realm) ?? new Map()).entries()],
      published: [...(published.get(realm) ?? new Map()).entries()],
    })
  } else if (message.type === 'metric') {
    // One metric of the registry by name: its values with their labels (none if it is not there).
    void Promise.resolve(registry.getSingleMetric(message.name ?? '')?.get()).then((metric) =>
      process.send?.({
        type: 'metric',
        values: (metric?.values ?? []).map(({ labels, value }) => ({ labels, value })),
      }),
    )
  } else if (message.type === 'loop-delay') {
    // `start` opens a window; `report` answers with the event-loop delay and CPU since.
    loopDelay ??= loopDelayWindow()
    if (message.action === 'start') loopDelay.start()
    process.send?.({ type: 'loop-delay', ...(message.action === 'report' ? loopDelay.report() : {}) })
  } else if (message.type === 'allow') {
    // The mesh's allowlist (null: anyone with the mesh key); peers no longer on it are hung up on.
    mesh!.setAllowPeers(message.peers ?? undefined)
    process.send?.({ type: 'allow' })
  } else if (message.type === 'dial') {
    mesh!.connect(message.addr ?? '').then(
      () => process.send?.({ type: 'dial' }),
      (err: Error) => process.send?.({ type: 'dial', error: err.message }),
    )
  }
})

const memcacheAddress = memcache?.addresses()[0]
process.send?.({
  type: 'ready',
  multiaddrs: mesh?.multiaddrs() ?? push!.libp2p.getMultiaddrs().map(String),
  ...(memcacheAddress?.transport === 'tcp' ? { memcachePort: memcacheAddress.port } : {}),
  ...(tlsServer !== undefined ? { tlsPort: (tlsServer.address() as AddressInfo).port } : {}),
})
const stop = async (): Promise<void> => {
  tlsServer?.close()
  await memcache?.stop()
  await mesh?.stop()
  await push?.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('disconnect', stop)
