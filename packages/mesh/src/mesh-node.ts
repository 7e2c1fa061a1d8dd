import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createReplicaStore,
  LocalSessionCache,
  type Logger,
  type ReplicaStore,
  type ReplicaStoreInit,
  type SessionCache,
} from '@tlsmesh/store'
import type { WireLimits } from '@tlsmesh/wire'
import { Registry } from 'prom-client'
import { type MeshClock, realClock } from './clock.ts'
import { DEFAULT_MESH_NAME, DEFAULT_PRUNE_INTERVAL_MS } from './constants.ts'
import { disseminate } from './dissemination.ts'
import { createMeshLibp2p, type GossipOptions, type MeshServices } from './mesh-libp2p.ts'
import {
  createMeshMetrics,
  type MeshCounters,
  type MeshMetrics,
  registerBroadcastMetrics,
  registerMeshGauges,
} from './mesh-metrics.ts'
import { checkInit, libp2pInit, publisherInit } from './mesh-settings.ts'
import { type MeshStatus, meshStatus, realmPeersOf } from './mesh-status.ts'
import type { PeerPolicy } from './peer-policy.ts'
import { type MeshDegreeTargets, meshDegreeOf, type PeerReportResult, reportPeers } from './peer-report.ts'
import { RecordAuthenticator } from './record-auth.ts'
import type { RecordIngest } from './record-ingest.ts'
import { RecordPublisher } from './record-publisher.ts'
import { startPruning } from './replica-pruner.ts'
import { createReplicaSide } from './replica-side.ts'
import type { RealmDigests } from './sync/realm-digests.ts'
import { createThreadedMeshNode } from './thread/threaded-mesh.ts'
import type { WorkerEntry } from './thread/worker-entry.ts'
import { realmTopic } from './topics.ts'

export interface MeshNodeInit {
  /** The mesh key file's contents (see `generateMeshKey`). Required unless `insecureDev`. */
  meshKey?: Uint8Array | string
  /** Run without a private-network key: anyone who reaches the port can join. Development only. */
  insecureDev?: boolean
  /** Persistent identity (see `loadOrCreateIdentity`); a fresh one per start if absent. */
  privateKey?: PrivateKey
  /** Multiaddrs to listen on. Default: a free TCP port on 127.0.0.1. */
  listen?: string[]
  /**
   * Multiaddrs to advertise (identify, peer exchange, mDNS) instead of every address the listeners
   * expand to: a node listening on 0.0.0.0 otherwise advertises 127.0.0.1 and each interface's address.
   * mDNS sends only the private ones among them (libp2p's rule).
   */
  announce?: string[]
  /**
   * Peers to join through: `host:port`, `/ip4/ADDR/tcp/PORT`, `/dns4/NAME/tcp/PORT` (also `/ip6`,
   * `/dns6`, `/dns`), with or without `/p2p/<peer id>` (the mesh key authenticates the fleet; the id
   * is learned in the handshake). Names are resolved again at every dial, each A/AAAA record dialed.
   * Dialed at start and again whenever this node has no connection (seed-dialer.ts).
   */
  seeds?: string[]
  /** Find peers on the LAN by multicast DNS. */
  mdns?: boolean
  /**
   * Peer ids that may connect and publish. Absent: any holder of the mesh key. The node's own id need
   * not be listed.
   */
  allowPeers?: string[]
  /**
   * Realms whose records only these peer ids may sign (this node's own id included only if listed),
   * on top of `allowPeers`: the ticket keys' allowed proposers.
   */
  realmSigners?: Record<string, string[]>
  /** Separates fleets that share a mesh key and a LAN. */
  meshName?: string
  /** Realms this node serves: it subscribes to their topics and stores only their records. */
  realms: string[]
  gossip?: Partial<GossipOptions>
  batchMaxBytes?: number
  batchMaxRecords?: number
  /**
   * A batch of this node's records goes out at most this often, in ms (0: one each turn of the event
   * loop); a record after a quiet spell goes on the next turn (default DEFAULT_BATCH_INTERVAL_MS).
   */
  batchIntervalMs?: number
  store?: Omit<ReplicaStoreInit, 'realms'>
  wireLimits?: Partial<WireLimits>
  targetPeers?: number
  maxConnections?: number
  /** Collect libp2p's own metrics into the registry (the daemon does; see the note where it is used). */
  libp2pMetrics?: boolean
  /**
   * How records travel: `tree` (default) sends each batch along an epidemic broadcast tree, about
   * one copy per node, with gossipsub as the fallback; `gossipsub` publishes on gossipsub, one copy
   * per mesh link.
   */
  dissemination?: 'tree' | 'gossipsub'
  /**
   * With the tree: at most this many eager neighbours, which bounds the copies a node sends of each
   * of its own batches (and relays) whatever the fleet's size (default DEFAULT_MAX_EAGER_PEERS).
   */
  maxEagerPeers?: number
  /**
   * Run the mesh's transport (libp2p, the tree, gossipsub, catch-up's transport, signatures) on a
   * worker thread of its own, the replica staying on this one: a TLS handshake or a memcached get
   * then never waits for the mesh's I/O or crypto. Not with an injected clock.
   */
  transportThread?: boolean
  /** Anti-entropy: reconcile with one random peer this often (and at once on meeting a first peer). */
  syncIntervalMs?: number
  /** How long a reconciliation waits for each message of its peer (a session may take 20 of these). */
  syncTimeoutMs?: number
  pruneIntervalMs?: number
}

export interface MeshNodeComponents {
  /** Use an existing replica (e.g. to keep it across a mesh restart). */
  store?: ReplicaStore
  registry?: Registry
  logger?: Logger
  /** Where the mesh reads the time and sets its timers; default `realClock`. */
  clock?: MeshClock
  /** Called for each record stored from gossip (benchmarks measure propagation with it). */
  onRecordReceived?: (realm: string, id: Uint8Array, created: number, receivedAt: number) => void
  /**
   * With `transportThread`: called once if that thread ends after start (a crash, its heap
   * exhausted). The replica still answers reads, but nothing replicates any more, and calls that
   * need the transport fail: restart the node, or the process.
   */
  onFailure?: (err: Error) => void
  /** With `transportThread`: where the thread's code comes from (default: beside the module, worker-entry.ts). */
  transportWorker?: WorkerEntry
}

export interface MeshNode {
  readonly peerId: PeerId
  /** The replicated session cache: reads are local, writes are published to the realm's topic. */
  readonly cache: SessionCache
  readonly store: ReplicaStore
  readonly registry: Registry
  readonly counters: MeshCounters
  start(): Promise<void>
  stop(): Promise<void>
  /** Publishes pending batches at once instead of on the next event-loop turn. */
  flush(): void
  /** Replaces the seeds (a reload): new ones are dialed at once, all of them whenever alone. */
  setSeeds(seeds: string[]): void
  /**
   * Replaces the allowlist (undefined: any holder of the mesh key) and hangs up on connected peers
   * that are no longer on it; the replica is kept.
   */
  setAllowPeers(peers: string[] | undefined): void
  multiaddrs(): string[]
  /** Dials a peer of the mesh now, by multiaddr (seeds are for peers to keep coming back to). */
  connect(address: string): Promise<void>
  status(): MeshStatus
  /** One row per connected peer for operators: addresses, latency, realms, gossip score. */
  peers(): Promise<PeerReportResult>
  /** The gossip mesh degree gossipsub aims at. */
  meshDegree(): MeshDegreeTargets
}

/** The libp2p node under a mesh node: for tests and test tools that play a raw peer's part. */
export function libp2pOf(node: MeshNode): Libp2p<MeshServices> {
  return Mesh.libp2pOf(node)
}

/**
 * Builds (but does not start) a mesh node: the replica's publisher and ingest, the peer policy, and
 * the libp2p node whose services carry records (mesh-libp2p.ts). Each part does its own work; this
 * makes them and hands each the others it needs.
 */
export async function createMeshNode(
  init: MeshNodeInit,
  components: MeshNodeComponents = {},
): Promise<MeshNode> {
  if (init.transportThread === true) return createThreadedMeshNode(init, components)
  checkInit(init)
  const meshName = init.meshName ?? DEFAULT_MESH_NAME
  const clock = components.clock ?? realClock
  const now = (): number => clock.now()
  const registry = components.registry ?? new Registry()
  const logger = components.logger?.child({ module: 'mesh' })
  const withLogger = logger !== undefined ? { logger } : {}
  const store = components.store ?? createReplicaStore({ ...init.store, realms: init.realms })
  const privateKey = init.privateKey ?? (await generateKeyPair('Ed25519'))
  const self = peerIdFromPrivateKey(privateKey).toString()
  const metrics = createMeshMetrics(registry)
  const auth = new RecordAuthenticator(privateKey, self)
  const { policy, ingest, digests, replica } = createReplicaSide(init, {
    ...{ store, now, metrics, auth, self },
    ...withLogger,
    ...(components.onRecordReceived !== undefined ? { onRecordReceived: components.onRecordReceived } : {}),
  })
  const topics = new Map(init.realms.map((realm) => [realm, realmTopic(meshName, realm)]))
  const settings = libp2pInit(init, meshName, topics)
  const libp2p = await createMeshLibp2p(settings, {
    ...{ privateKey, registry, replica, auth, policy, ingest, clock },
    ...withLogger,
  })
  registerNodeMetrics(registry, libp2p, store)
  const publisher = new RecordPublisher(publisherInit(init), {
    counters: metrics.counters,
    clock,
    auth,
    attachProof: (record, proof) => store.attachProof(record, proof),
    publish: (realm, batch) => disseminate(libp2p.services, topics, realm, batch),
    onError: (err) => logger?.warn({ err: (err as Error).message }, 'publish failed'),
  })
  return new Mesh({
    ...{ init, meshName, self, clock, store, registry, metrics, ingest, policy, digests, topics, libp2p },
    ...{
      publisher,
      logger,
      degree: { D: settings.gossip.D, Dlo: settings.gossip.Dlo, Dhi: settings.gossip.Dhi },
    },
  })
}

/** What a node is made of: createMeshNode makes and wires the parts, `Mesh` runs them. */
interface MeshParts {
  init: MeshNodeInit
  meshName: string
  self: string
  clock: MeshClock
  logger: Logger | undefined
  store: ReplicaStore
  registry: Registry
  metrics: MeshMetrics
  ingest: RecordIngest
  policy: PeerPolicy
  digests: RealmDigests
  topics: Map<string, string>
  degree: MeshDegreeTargets
  libp2p: Libp2p<MeshServices>
  publisher: RecordPublisher
}

class Mesh implements MeshNode {
  readonly peerId: PeerId
  readonly cache: SessionCache
  readonly store: ReplicaStore
  readonly registry: Registry
  readonly counters: MeshCounters
  readonly #parts: MeshParts
  readonly #libp2p: Libp2p<MeshServices>
  #startedAt = 0
  #stopPruning: (() => void) | undefined
  #unfollowStore: (() => void) | undefined

  constructor(parts: MeshParts) {
    this.#parts = parts
    this.#libp2p = parts.libp2p
    this.peerId = parts.libp2p.peerId
    this.store = parts.store
    this.registry = parts.registry
    this.counters = parts.metrics.counters
    this.cache = new LocalSessionCache({
      store: parts.store,
      now: () => parts.clock.now(),
      origin: parts.self,
    })
  }

  static libp2pOf(node: MeshNode): Libp2p<MeshServices> {
    if (!(node instanceof Mesh)) throw new TypeError('not a mesh node made by createMeshNode')
    return node.#libp2p
  }

  async start(): Promise<void> {
    const { digests, topics, store, clock, init, logger, self } = this.#parts
    this.#unfollowStore = this.#followStore()
    digests.start()
    await this.#libp2p.start()
    for (const topic of topics.values()) this.#libp2p.services.pubsub.subscribe(topic)
    this.#startedAt = clock.now()
    this.#stopPruning = startPruning(store, clock, init.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS)
    logger?.info({ peerId: self, listen: this.multiaddrs(), realms: init.realms }, 'mesh started')
  }

  async stop(): Promise<void> {
    this.#unfollowStore?.()
    this.#parts.publisher.stop()
    this.#stopPruning?.()
    await this.#libp2p.stop()
    this.#parts.digests.stop()
    this.#parts.logger?.info({}, 'mesh stopped')
  }

  flush(): void {
    this.#parts.publisher.flush()
  }

  setSeeds(seeds: string[]): void {
    this.#libp2p.services.seeds.setSeeds(seeds)
  }

  setAllowPeers(peers: string[] | undefined): void {
    this.#parts.policy.setAllowPeers(peers)
  }

  multiaddrs(): string[] {
    return this.#libp2p.getMultiaddrs().map((ma) => ma.toString())
  }

  async connect(address: string): Promise<void> {
    await this.#libp2p.dial(multiaddr(address))
  }

  peers(): Promise<PeerReportResult> {
    const { meshName, init, degree } = this.#parts
    return reportPeers(this.#libp2p, this.#libp2p.services.pubsub, {
      meshName,
      realms: init.realms,
      fallbackDegree: degree,
    })
  }

  meshDegree(): MeshDegreeTargets {
    return meshDegreeOf(this.#libp2p.services.pubsub, this.#parts.degree)
  }

  status(): MeshStatus {
    const { self, meshName, topics, store, metrics, ingest, clock } = this.#parts
    const { pubsub, sync, broadcast } = this.#libp2p.services
    return meshStatus({
      ...{ peerId: self, meshName, listenAddrs: this.multiaddrs(), store },
      realmPeers: realmPeersOf(topics, pubsub),
      peers: this.#libp2p.getPeers().map(String),
      counters: metrics.counters,
      propagation: ingest.propagation,
      sync: sync.stats,
      broadcast: broadcast?.stats() ?? null,
      uptimeMs: this.#startedAt === 0 ? 0 : clock.now() - this.#startedAt,
    })
  }

  /** The store is the one way in: its changes say what to publish and what to measure. */
  #followStore(): () => void {
    const { ingest, store, publisher } = this.#parts
    const unwatchIngest = ingest.start()
    const unwatchLocal = store.watch({
      stored: (record, source) => {
        if (source === 'local') publisher.add(record)
      },
      removed: () => {},
    })
    return () => {
      unwatchLocal()
      unwatchIngest()
    }
  }
}

/** Gauges read from the node and its replica when scraped, and the tree's counters. */
function registerNodeMetrics(registry: Registry, libp2p: Libp2p<MeshServices>, store: ReplicaStore): void {
  registerMeshGauges(registry, {
    peers: () => libp2p.getPeers().length,
    replicaEntries: () => store.stats().entries,
    replicaBytes: () => store.stats().bytes,
  })
  const { broadcast } = libp2p.services
  if (broadcast !== undefined) registerBroadcastMetrics(registry, () => broadcast.stats())
}
