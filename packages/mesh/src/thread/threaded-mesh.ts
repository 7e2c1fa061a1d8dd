import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  createReplicaStore,
  LocalSessionCache,
  type Logger,
  type ReplicaStore,
  type SessionCache,
} from '@tlsmesh/store'
import { resolveSyncLimits } from '@tlsmesh/wire'
import { Registry } from 'prom-client'
import { realClock } from '../clock.ts'
import { DEFAULT_MESH_NAME, DEFAULT_PRUNE_INTERVAL_MS } from '../constants.ts'
import {
  type CountersSnapshot,
  createMeshMetrics,
  MeshCounters,
  type MeshMetrics,
  registerBroadcastMetrics,
  registerMeshGauges,
} from '../mesh-metrics.ts'
import type { MeshNode, MeshNodeComponents, MeshNodeInit } from '../mesh-node.ts'
import { checkInit, libp2pInit, publisherInit } from '../mesh-settings.ts'
import { type MeshStatus, meshStatus } from '../mesh-status.ts'
import type { PeerPolicy } from '../peer-policy.ts'
import type { MeshDegreeTargets, PeerReportResult } from '../peer-report.ts'
import { RecordAuthenticator } from '../record-auth.ts'
import type { RecordIngest } from '../record-ingest.ts'
import { startPruning } from '../replica-pruner.ts'
import { createReplicaSide } from '../replica-side.ts'
import type { RealmDigests } from '../sync/realm-digests.ts'
import { serveSyncReplica } from '../sync/replica-port.ts'
import type { SyncReplica } from '../sync/sync-replica.ts'
import { emptySyncStats } from '../sync/sync-service.ts'
import { realmTopic } from '../topics.ts'
import { serveBatchValidation } from './batch-port.ts'
import type {
  MeshTransportInit,
  MeshTransportPorts,
  TransportReply,
  TransportRequest,
  TransportSnapshot,
} from './mesh-transport.ts'
import { enabledLevels, relayLogs } from './port-logger.ts'
import { type RelayedMetric, RelayedMetrics } from './relayed-metrics.ts'
import { transportWorkerEntry, type WorkerEntry } from './worker-entry.ts'
import { forwardLocalWrites } from './write-port.ts'

/** How often the transport's counters and peers are read for `status()` and the metrics. */
const SNAPSHOT_INTERVAL_MS = 500

/**
 * A mesh node whose transport runs on a worker thread (mesh-transport.ts): libp2p, the tree,
 * gossipsub, catch-up's transport, signature checks and signing. This thread, the server's, keeps the
 * replica and what reads or writes it: the store and its cache, the realms' digests, catch-up's
 * replica side (answers, pages, merges), the validation of what arrived, and the pruner. A handshake
 * or a memcached get then waits only for those, never for the mesh's I/O, its crypto or its codecs.
 */
export async function createThreadedMeshNode(
  init: MeshNodeInit,
  components: MeshNodeComponents = {},
): Promise<MeshNode> {
  checkInit(init)
  if (components.clock !== undefined && components.clock !== realClock) {
    throw new RangeError('transportThread: the clock cannot be injected into a transport on its own thread')
  }
  const meshName = init.meshName ?? DEFAULT_MESH_NAME
  const now = (): number => realClock.now()
  const registry = components.registry ?? new Registry()
  const logger = components.logger?.child({ module: 'mesh' })
  const withLogger = logger !== undefined ? { logger } : {}
  const store = components.store ?? createReplicaStore({ ...init.store, realms: init.realms })
  const privateKey = init.privateKey ?? (await generateKeyPair('Ed25519'))
  const peerId = peerIdFromPrivateKey(privateKey)
  const self = peerId.toString()
  const counted = new MeshCounters()
  const transportCounts = { latest: new MeshCounters().snapshot() }
  const metrics = createMeshMetrics(registry, (sum) => counted.plus(transportCounts.latest, sum))
  const { policy, ingest, digests, replica } = createReplicaSide(init, {
    ...{ store, now, self, auth: new RecordAuthenticator(privateKey, self) },
    metrics: { counters: counted, propagationSeconds: metrics.propagationSeconds },
    ...withLogger,
    ...(components.onRecordReceived !== undefined ? { onRecordReceived: components.onRecordReceived } : {}),
  })
  const transport = transportInit(init, { privateKey, meshName, logger: components.logger })
  return new ThreadedMesh({
    ...{
      init,
      logger,
      peerId,
      store,
      registry,
      metrics,
      counted,
      transportCounts,
      policy,
      ingest,
      digests,
      replica,
      transport,
    },
    workerEntry: components.transportWorker ?? transportWorkerEntry(),
    ...(components.onFailure !== undefined ? { onFailure: components.onFailure } : {}),
    syncLimits: resolveSyncLimits(transport.libp2p.sync.limits),
  })
}

/** What the transport thread starts with: the node's settings, as plain data. */
function transportInit(
  init: MeshNodeInit,
  { privateKey, meshName, logger }: { privateKey: PrivateKey; meshName: string; logger: Logger | undefined },
): MeshTransportInit {
  const topics = new Map(init.realms.map((realm) => [realm, realmTopic(meshName, realm)]))
  const settings = libp2pInit(init, meshName, topics)
  return {
    privateKey: privateKeyToProtobuf(privateKey),
    meshName,
    libp2p: settings,
    publisher: publisherInit(init),
    wireLimits: { ...init.wireLimits },
    ...(init.allowPeers !== undefined ? { allowPeers: init.allowPeers } : {}),
    ...(init.realmSigners !== undefined ? { realmSigners: init.realmSigners } : {}),
    fallbackDegree: { D: settings.gossip.D, Dlo: settings.gossip.Dlo, Dhi: settings.gossip.Dhi },
    logLevels: logger !== undefined ? enabledLevels(logger) : [],
  }
}

interface ThreadedParts {
  init: MeshNodeInit
  logger: Logger | undefined
  peerId: PeerId
  store: ReplicaStore
  registry: Registry
  /** What the registry and `counters` show: this thread's counts plus the transport's. */
  metrics: MeshMetrics
  /** This thread's own counts (validation, merges). */
  counted: MeshCounters
  /** The transport's counts, as its last snapshot gave them. */
  transportCounts: { latest: CountersSnapshot }
  policy: PeerPolicy
  ingest: RecordIngest
  digests: RealmDigests
  replica: SyncReplica
  transport: MeshTransportInit
  workerEntry: WorkerEntry
  onFailure?: (err: Error) => void
  syncLimits: ReturnType<typeof resolveSyncLimits>
}

/** Each port's two ends: the transport's go to its thread. */
function channels(): { here: MeshTransportPorts; there: MeshTransportPorts } {
  const pairs = {
    control: new MessageChannel(),
    sync: new MessageChannel(),
    batches: new MessageChannel(),
    writes: new MessageChannel(),
    logs: new MessageChannel(),
  }
  const end = (which: 'port1' | 'port2') =>
    Object.fromEntries(
      Object.entries(pairs).map(([name, pair]) => [name, pair[which]]),
    ) as unknown as MeshTransportPorts
  return { here: end('port1'), there: end('port2') }
}

/** The transport thread's worker, from wherever this build keeps its code (worker-entry.ts). */
function startWorker(entry: WorkerEntry, init: MeshTransportInit, ports: MeshTransportPorts): Worker {
  const options = { workerData: { init, ports }, transferList: Object.values(ports) as MessagePort[] }
  if ('file' in entry) return new Worker(entry.file, options)
  return new Worker(entry.code, { ...options, eval: true })
}

class ThreadedMesh implements MeshNode {
  readonly peerId: PeerId
  readonly cache: SessionCache
  readonly store: ReplicaStore
  readonly registry: Registry
  readonly counters: MeshCounters
  readonly #parts: ThreadedParts
  readonly #ports = channels()
  #worker: Worker | undefined
  #calls = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>()
  #nextCall = 0
  #snapshot: TransportSnapshot | undefined
  #startedAt = 0
  #stops: Array<() => void> = []
  #flushWrites: (() => void) | undefined
  #failure: Error | undefined

  constructor(parts: ThreadedParts) {
    this.#parts = parts
    this.peerId = parts.peerId
    this.store = parts.store
    this.registry = parts.registry
    this.counters = parts.metrics.counters
    this.cache = new LocalSessionCache({
      store: parts.store,
      now: () => realClock.now(),
      origin: parts.peerId.toString(),
    })
    this.#ports.here.control.on('message', (reply: TransportReply) => {
      const call = this.#calls.get(reply.call)
      this.#calls.delete(reply.call)
      if ('error' in reply) call?.reject(new Error(reply.error))
      else call?.resolve(reply.value)
    })
    registerMeshGauges(parts.registry, {
      peers: () => this.#snapshot?.peers.length ?? 0,
      replicaEntries: () => parts.store.stats().entries,
      replicaBytes: () => parts.store.stats().bytes,
    })
  }

  async start(): Promise<void> {
    const { store, digests, replica, ingest, syncLimits, init, transport } = this.#parts
    const { here, there } = this.#ports
    this.#stops.push(ingest.start())
    if (this.#parts.logger !== undefined) this.#stops.push(relayLogs(here.logs, this.#parts.logger))
    digests.start()
    this.#stops.push(serveSyncReplica(replica, here.sync, syncLimits))
    this.#stops.push(
      serveBatchValidation((batch) => ingest.validate(batch), here.batches, { ...init.wireLimits }),
    )
    const writes = forwardLocalWrites(store, here.writes)
    this.#flushWrites = writes.flush
    this.#stops.push(writes.stop)
    const worker = startWorker(this.#parts.workerEntry, transport, there)
    this.#worker = worker
    worker.on('error', (err) => this.#fail(worker, err))
    worker.on('exit', (code) => this.#fail(worker, new Error(`the transport thread exited (code ${code})`)))
    this.#take((await this.#call({ op: 'start' })) as TransportSnapshot)
    const readMetrics = () => this.#call({ op: 'metrics' }) as Promise<RelayedMetric[]>
    new RelayedMetrics(this.registry, readMetrics).add(await readMetrics())
    if (this.#snapshot?.broadcast != null) {
      registerBroadcastMetrics(this.registry, () => this.#snapshot!.broadcast!)
    }
    this.#startedAt = realClock.now()
    const refresh = setInterval(() => {
      this.#call({ op: 'snapshot' }).then(
        (snapshot) => this.#take(snapshot as TransportSnapshot),
        () => {},
      )
    }, SNAPSHOT_INTERVAL_MS)
    refresh.unref()
    this.#stops.push(() => clearInterval(refresh))
    this.#stops.push(startPruning(store, realClock, init.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS))
    this.#parts.logger?.info(
      {
        peerId: this.peerId.toString(),
        listen: this.multiaddrs(),
        realms: init.realms,
        transportThread: true,
      },
      'mesh started',
    )
  }

  async stop(): Promise<void> {
    this.#flushWrites?.()
    for (const stop of this.#stops.splice(0).reverse()) stop()
    const worker = this.#worker
    if (worker !== undefined) {
      await this.#call({ op: 'stop' }).catch(() => {})
      this.#worker = undefined
      await worker.terminate()
    }
    this.#parts.digests.stop()
    this.#parts.logger?.info({}, 'mesh stopped')
    for (const port of [...Object.values(this.#ports.here)] as MessagePort[]) port.close()
  }

  flush(): void {
    this.#flushWrites?.()
  }

  setSeeds(seeds: string[]): void {
    void this.#call({ op: 'set-seeds', seeds }).catch(() => {})
  }

  setAllowPeers(peers: string[] | undefined): void {
    this.#parts.policy.setAllowPeers(peers)
    void this.#call({ op: 'set-allow-peers', peers }).catch(() => {})
  }

  multiaddrs(): string[] {
    return this.#snapshot?.multiaddrs ?? []
  }

  async connect(address: string): Promise<void> {
    await this.#call({ op: 'connect', address })
  }

  async peers(): Promise<PeerReportResult> {
    return (await this.#call({ op: 'peers' })) as PeerReportResult
  }

  meshDegree(): MeshDegreeTargets {
    return this.#snapshot?.degree ?? this.#parts.transport.fallbackDegree
  }

  status(): MeshStatus {
    const { transport, store, ingest } = this.#parts
    const snapshot = this.#snapshot
    this.#sumCounters()
    return meshStatus({
      peerId: this.peerId.toString(),
      meshName: transport.meshName,
      listenAddrs: this.multiaddrs(),
      peers: snapshot?.peers ?? [],
      realmPeers: snapshot?.realms ?? {},
      store,
      counters: this.counters,
      propagation: ingest.propagation,
      sync: snapshot?.sync ?? emptySyncStats(),
      broadcast: snapshot?.broadcast ?? null,
      uptimeMs: this.#startedAt === 0 ? 0 : realClock.now() - this.#startedAt,
    })
  }

  #take(snapshot: TransportSnapshot): void {
    this.#snapshot = snapshot
    this.#parts.transportCounts.latest = snapshot.counters
    this.#sumCounters()
  }

  #sumCounters(): void {
    this.#parts.counted.plus(this.#parts.transportCounts.latest, this.counters)
  }

  #call(request: DistributiveOmit<TransportRequest, 'call'>): Promise<unknown> {
    const call = this.#nextCall++
    return new Promise((resolve, reject) => {
      if (this.#worker === undefined) {
        reject(this.#failure ?? new Error('the mesh is not started'))
        return
      }
      this.#calls.set(call, { resolve, reject })
      this.#ports.here.control.postMessage({ ...request, call } as TransportRequest)
    })
  }

  /** The worker ended, unasked (stop() forgets it first): every call fails from now on. */
  #fail(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return
    this.#worker = undefined
    this.#failure = err
    this.#parts.logger?.error({ err: err.message }, 'the mesh transport thread failed')
    for (const { reject } of this.#calls.values()) reject(err)
    this.#calls.clear()
    if (this.#startedAt !== 0) this.#parts.onFailure?.(err)
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never
