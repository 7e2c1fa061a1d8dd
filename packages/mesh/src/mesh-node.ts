import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerDiscovery, PeerId, PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import {
  createReplicaStore,
  LocalSessionCache,
  type ReplicaStore,
  type ReplicaStoreInit,
  type SessionCache,
} from '@tlsmesh/store'
import type { WireLimits } from '@tlsmesh/wire'
import { createLibp2p } from 'libp2p'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { BroadcastService, type BroadcastStats } from './broadcast/broadcast-service.ts'
import {
  DEFAULT_BATCH_MAX_BYTES,
  DEFAULT_BATCH_MAX_RECORDS,
  DEFAULT_DISSEMINATION,
  DEFAULT_GOSSIP_D,
  DEFAULT_GOSSIP_DHI,
  DEFAULT_GOSSIP_DLO,
  DEFAULT_GRAFT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LAZY_FANOUT,
  DEFAULT_LAZY_FLUSH_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_EAGER_PEERS,
  DEFAULT_MESH_NAME,
  DEFAULT_PRUNE_INTERVAL_MS,
  DEFAULT_REGRAFT_TIMEOUT_MS,
  DEFAULT_SHED_INTERVAL_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_SYNC_TIMEOUT_MS,
  DEFAULT_TARGET_PEERS,
  INBOUND_CONNECTION_THRESHOLD,
  MAX_INCOMING_PENDING_CONNECTIONS,
  PING_INTERVAL_MS,
} from './constants.ts'
import { InvalidMeshKeyError, type ValidationCode } from './errors.ts'
import {
  authenticateBatch,
  type BatchValidationContext,
  refusalVerdict,
  toVerdict,
  validateBatch,
} from './gossip-validation.ts'
import { parseMeshKey } from './mesh-key.ts'
import {
  createMeshMetrics,
  type MeshCounters,
  type MeshMetrics,
  registerBroadcastMetrics,
} from './mesh-metrics.ts'
import { PeerExchange } from './peer-exchange.ts'
import { createPreKeyAdmission } from './pre-key-admission.ts'
import { createPrivateNetworkProtector } from './private-network.ts'
import { PropagationWindow } from './propagation-window.ts'
import { RecordAuthenticator } from './record-auth.ts'
import { RecordPublisher } from './record-publisher.ts'
import { startPruning } from './replica-pruner.ts'
import { parseSeed } from './seed-address.ts'
import { createSeedDialer } from './seed-dialer.ts'
import { RealmDigests } from './sync/realm-digests.ts'
import { SyncService, type SyncStats } from './sync/sync-service.ts'
import { realmTopic } from './topics.ts'

/**
 * Gossip scoring for a realm's topic. Only provably bad messages count (invalid deliveries: the
 * validator rejected them); quiet peers are not penalised, since session traffic is bursty. Three
 * rejected messages take a peer below the graylist threshold (-80); the count decays by 10% a second.
 */
const REALM_TOPIC_SCORE_PARAMS = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 3600,
  firstMessageDeliveriesWeight: 0,
  firstMessageDeliveriesDecay: 0.5,
  firstMessageDeliveriesCap: 2000,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 100,
  meshMessageDeliveriesThreshold: 20,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.9,
}

export interface GossipOptions {
  D: number
  Dlo: number
  Dhi: number
  heartbeatMs: number
  floodPublish: boolean
}

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
  now?: () => number
  /** Called for each record stored from gossip (benchmarks measure propagation with it). */
  onRecordReceived?: (realm: string, id: Uint8Array, created: number, receivedAt: number) => void
}

export interface RealmStatus {
  meshPeers: number
  subscribers: number
  entries: number
  bytes: number
}

export interface MeshStatus {
  peerId: string
  meshName: string
  listenAddrs: string[]
  connectedPeers: number
  peers: string[]
  realms: Record<string, RealmStatus>
  replica: { entries: number; bytes: number; evictions: number; expirations: number }
  records: {
    published: number
    received: number
    stored: number
    messagesPublished: number
    messagesReceived: number
    rejected: number
    ignored: number
    /** Gossip messages ignored or rejected, by reason. */
    refused: Partial<Record<ValidationCode, number>>
    /** Records that arrived older than the clock-skew window. */
    clockSkewSuspected: number
  }
  propagationMs: { samples: number; p50: number | null; p99: number | null }
  sync: SyncStats
  /** The broadcast tree (null when disseminating on gossipsub only). */
  broadcast: BroadcastStats | null
  uptimeMs: number
}

export interface MeshNode {
  readonly peerId: PeerId
  /** The replicated session cache: reads are local, writes are published to the realm's topic. */
  readonly cache: SessionCache
  readonly store: ReplicaStore
  readonly registry: Registry
  readonly counters: MeshCounters
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
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
  status(): MeshStatus
}

/**
 * Builds (but does not start) a mesh node: libp2p with TCP, pnet, Noise, yamux, identify, ping,
 * gossipsub, seeds (by address or name), peer exchange and optionally mDNS, plus the local replica.
 */
export async function createMeshNode(
  init: MeshNodeInit,
  components: MeshNodeComponents = {},
): Promise<MeshNode> {
  if (init.meshKey === undefined && init.insecureDev !== true) {
    throw new InvalidMeshKeyError('a mesh key is required (or set insecureDev for a development mesh)')
  }
  if (init.realms.length === 0) throw new RangeError('realms: at least one realm is required')
  if (
    init.maxEagerPeers !== undefined &&
    !(Number.isSafeInteger(init.maxEagerPeers) && init.maxEagerPeers >= 1)
  ) {
    throw new RangeError('maxEagerPeers: a whole number of at least 1')
  }
  const meshName = init.meshName ?? DEFAULT_MESH_NAME
  const now = components.now ?? Date.now
  const registry = components.registry ?? new Registry()
  const logger = components.logger?.child({ module: 'mesh' })
  const store = components.store ?? createReplicaStore({ ...init.store, realms: init.realms })
  // Replaced (not mutated) by setAllowPeers: the gater and the gossip score read it on every use.
  let allowPeers = init.allowPeers !== undefined ? new Set(init.allowPeers) : undefined
  // Peers that sent provably bad frames on the broadcast tree are refused for a while.
  const bannedUntil = new Map<string, number>()
  const refusedByAllowlist = (peer: PeerId): boolean => {
    const key = peer.toString()
    if (allowPeers !== undefined && !allowPeers.has(key)) return true
    const until = bannedUntil.get(key)
    if (until === undefined) return false
    if (until > Date.now()) return true
    bannedUntil.delete(key)
    return false
  }
  // The allowlist applies to whoever signed a record, not only to who connects.
  const privateKey = init.privateKey ?? (await generateKeyPair('Ed25519'))
  const self = peerIdFromPrivateKey(privateKey).toString()
  const realmSigners = new Map(Object.entries(init.realmSigners ?? {}).map(([r, ids]) => [r, new Set(ids)]))
  const originAllowed = (origin: string, realm: string): boolean =>
    (realmSigners.get(realm)?.has(origin) ?? true) &&
    (allowPeers === undefined || origin === self || allowPeers.has(origin))
  const gossip: GossipOptions = {
    D: DEFAULT_GOSSIP_D,
    Dlo: DEFAULT_GOSSIP_DLO,
    Dhi: DEFAULT_GOSSIP_DHI,
    heartbeatMs: DEFAULT_HEARTBEAT_MS,
    floodPublish: false,
    ...init.gossip,
  }

  // A bad seed fails here (InvalidSeedError), before libp2p is built.
  for (const seed of init.seeds ?? []) parseSeed(seed)

  // biome-ignore lint/suspicious/noExplicitAny: each discovery factory wants its own components subset
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (init.mdns === true) peerDiscovery.push(mdns({ serviceTag: `tlsmesh-${meshName}.local` }))

  const libp2p = await createLibp2p({
    start: false,
    privateKey,
    addresses: {
      listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      ...(init.announce !== undefined && init.announce.length > 0 ? { announce: init.announce } : {}),
    },
    // libp2p's own metrics (bytes per protocol, connections, dials) beside ours, in the same registry.
    // Opt-in: @libp2p/prometheus-metrics clears prom-client's global registry when it starts, which
    // would wipe an embedding application's own metrics.
    ...(init.libp2pMetrics === true
      ? { metrics: prometheusMetrics({ registry, collectDefaultMetrics: false }) }
      : {}),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // yamux's keep-alive pings only log when they fail; liveness is the connection monitor's below.
    streamMuxers: [yamux({ enableKeepAlive: false })],
    // Inbound connections that have not proven the key are capped and dropped quickly.
    ...(init.meshKey !== undefined
      ? {
          connectionProtector: createPrivateNetworkProtector({
            psk: parseMeshKey(init.meshKey),
            admission: createPreKeyAdmission({ registry }),
          }),
        }
      : {}),
    // With an allowlist, other peers are refused as soon as their identity is known (after Noise),
    // in both directions; gossip scoring (appSpecificScore) is the second line.
    connectionGater: {
      denyInboundEncryptedConnection: refusedByAllowlist,
      denyOutboundEncryptedConnection: refusedByAllowlist,
      denyDialPeer: refusedByAllowlist,
    },
    connectionManager: {
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      // A fleet often sits behind one NAT address or, in tests, on 127.0.0.1: the default
      // per-host inbound rate limit would reset most of the mesh's dials.
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
    },
    connectionMonitor: { pingInterval: PING_INTERVAL_MS },
    peerDiscovery,
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        D: gossip.D,
        Dlo: gossip.Dlo,
        Dhi: gossip.Dhi,
        heartbeatInterval: gossip.heartbeatMs,
        floodPublish: gossip.floodPublish,
        allowPublishToZeroTopicPeers: true,
        // Ids from the message bytes: two copies of a batch are one message, whoever relays them.
        msgIdFn: (msg) => createHash('sha256').update(msg.data).digest(),
        scoreParams: {
          // Every node of a fleet may share one address (NAT, loopback): no colocation penalty.
          IPColocationFactorWeight: 0,
          // Peers outside the allowlist sink below the graylist threshold: nothing they send is read.
          appSpecificScore: (peer: string) => (allowPeers === undefined || allowPeers.has(peer) ? 0 : -1000),
          appSpecificWeight: 1,
          topics: Object.fromEntries(
            init.realms.map((realm) => [realmTopic(meshName, realm), REALM_TOPIC_SCORE_PARAMS]),
          ),
        },
      }),
    },
  })
  const pubsub = libp2p.services.pubsub
  // getMeshPeers is on the implementation, not on the exported interface.
  const meshPeersOf = (topic: string): number =>
    (pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(topic).length
  const metrics: MeshMetrics = createMeshMetrics(registry, {
    peers: () => libp2p.getPeers().length,
    replicaEntries: () => store.stats().entries,
    replicaBytes: () => store.stats().bytes,
  })
  const propagation = new PropagationWindow()
  const topics = new Map(init.realms.map((realm) => [realm, realmTopic(meshName, realm)]))
  const realmByTopic = new Map([...topics].map(([realm, topic]) => [topic, realm]))

  const auth = new RecordAuthenticator(privateKey, libp2p.peerId.toString())
  const publisher = new RecordPublisher(
    {
      maxBatchBytes: init.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES,
      maxBatchRecords: init.batchMaxRecords ?? DEFAULT_BATCH_MAX_RECORDS,
      limits: { ...init.wireLimits },
    },
    {
      counters: metrics.counters,
      auth,
      attachProof: (record, proof) => store.attachProof(record, proof),
      publish: async (realm, batch) => {
        const topic = topics.get(realm)
        if (topic === undefined) return 0
        if (broadcast !== undefined) {
          const reached = broadcast.publish(realm, batch)
          // No tree neighbour yet (just started, or alone with gossipsub-only peers): gossipsub carries it.
          if (reached > 0) return reached
        }
        const result = await pubsub.publish(topic, batch)
        return result.recipients.length
      },
      onError: (err) => logger?.warn({ err: (err as Error).message }, 'publish failed'),
    },
  )
  const cache = new LocalSessionCache({
    store,
    now,
    origin: libp2p.peerId.toString(),
    onRecord: (record) => publisher.add(record),
  })

  // Peers refuse a node's records whose `created` is ahead of their clocks (from-future), and a node
  // whose clock is behind sees fresh gossip as old: either way its sessions stop replicating, so say so.
  let lastSkewWarning = 0
  const reportClockSkew = (ageMs: number): void => {
    metrics.counters.clockSkewSuspected++
    if (Date.now() - lastSkewWarning < 60_000) return
    lastSkewWarning = Date.now()
    logger?.warn(
      { ageMs, windowMs: store.limits.maxClockSkewMs },
      'gossip records arrive older than the clock-skew window: check NTP on this node and its peers',
    )
  }

  // A contested realm's rule refused a newer record of another origin: in the fleet's realms, a
  // ticket key proposed for a period that had started here (a partition, or a key holder's attempt).
  let lastConflictWarning = 0
  const reportConflict = (realm: string, origin: string): void => {
    if (Date.now() - lastConflictWarning < 10_000) return
    lastConflictWarning = Date.now()
    logger?.warn(
      { realm, origin },
      'refused a competing record for an id another node holds (a ticket key for a period that has started)',
    )
  }

  const validationContext: BatchValidationContext = {
    store,
    limits: { ...init.wireLimits },
    now,
    counters: metrics.counters,
    auth,
    originAllowed,
    onConflict: reportConflict,
    onRecordStored: (created: number, at: number, id: Uint8Array, realm: string) => {
      const ms = at - created
      propagation.add(ms)
      metrics.propagationSeconds.observe(Math.max(0, ms) / 1000)
      if (ms > store.limits.maxClockSkewMs) reportClockSkew(ms)
      components.onRecordReceived?.(realm, id, created, at)
    },
  }
  for (const [topic, realm] of realmByTopic) {
    pubsub.topicValidators.set(topic, (_peer, msg) => {
      metrics.counters.messagesReceived++
      metrics.counters.bytesReceived += msg.data.byteLength
      const from = msg.type === 'signed' ? msg.from.toString() : undefined
      return toVerdict(metrics.counters, () =>
        validateBatch(
          validationContext,
          authenticateBatch(validationContext, { topicRealm: realm, from, data: msg.data }),
        ),
      ) as never
    })
  }

  const broadcast =
    (init.dissemination ?? DEFAULT_DISSEMINATION) === 'tree'
      ? new BroadcastService(
          {
            realms: init.realms,
            graftTimeoutMs: DEFAULT_GRAFT_TIMEOUT_MS,
            regraftTimeoutMs: DEFAULT_REGRAFT_TIMEOUT_MS,
            lazyFlushMs: DEFAULT_LAZY_FLUSH_MS,
            lazyFanout: DEFAULT_LAZY_FANOUT,
            maxEagerPeers: init.maxEagerPeers ?? DEFAULT_MAX_EAGER_PEERS,
            shedIntervalMs: DEFAULT_SHED_INTERVAL_MS,
          },
          {
            libp2p,
            subscribers: (realm) => pubsub.getSubscribers(topics.get(realm) ?? '').map(String),
            authenticate: (realm, origin, data) => {
              metrics.counters.messagesReceived++
              metrics.counters.bytesReceived += data.byteLength
              try {
                return {
                  batch: authenticateBatch(validationContext, { topicRealm: realm, from: origin, data }),
                }
              } catch (err) {
                return { verdict: refusalVerdict(metrics.counters, err) }
              }
            },
            validate: (batch) => toVerdict(metrics.counters, () => validateBatch(validationContext, batch)),
            penalize: (peer, reason) => penalize(peer, reason),
            ...(logger !== undefined ? { logger } : {}),
          },
        )
      : undefined
  if (broadcast !== undefined) {
    pubsub.addEventListener('subscription-change', () => broadcast.refreshNeighbours())
    registerBroadcastMetrics(registry, () => broadcast.stats())
  }

  // Three provably bad frames within a minute: hang up and refuse the peer for a minute.
  const strikes = new Map<string, number[]>()
  const penalize = (peer: string, reason: string): void => {
    const now = Date.now()
    const recent = (strikes.get(peer) ?? []).filter((t) => now - t < 60_000)
    recent.push(now)
    strikes.set(peer, recent)
    logger?.debug({ peer, reason }, 'peer sent a bad broadcast frame')
    if (recent.length < 3) return
    strikes.delete(peer)
    bannedUntil.set(peer, now + 60_000)
    logger?.warn({ peer, reason }, 'refusing a peer for a minute: it sent invalid messages')
    libp2p.hangUp(peerIdFromString(peer)).catch(() => {})
  }

  const targetPeers = init.targetPeers ?? DEFAULT_TARGET_PEERS
  const discoveryDials = new Set<string>()
  const onDiscovery = (event: CustomEvent<{ id: PeerId }>): void => {
    const peer = event.detail.id
    if (peer.equals(libp2p.peerId)) return
    const key = peer.toString()
    if (libp2p.getConnections(peer).length > 0 || discoveryDials.has(key)) return
    // libp2p 3 has no auto-dialer: a node that knows only its seeds dials what discovery finds.
    // Dials in flight count: libp2p reports every peer added to the peer store as discovered (a
    // peer exchange answer adds dozens at once), and dialing them all made every fleet a full mesh.
    if (libp2p.getConnections().length + discoveryDials.size >= targetPeers) return
    discoveryDials.add(key)
    libp2p
      .dial(peer)
      .catch((err: Error) => logger?.debug({ err: err.message }, 'dial of a discovered peer failed'))
      .finally(() => discoveryDials.delete(key))
  }

  const peerExchange = new PeerExchange(
    { targetPeers },
    { libp2p, ...(logger !== undefined ? { logger } : {}) },
  )
  const seedDialer = createSeedDialer(
    { seeds: init.seeds ?? [] },
    { libp2p, ...(logger !== undefined ? { logger: logger.child({ module: 'seeds' }) } : {}) },
  )

  // One digest per served realm, kept up to date from the store's changes, for reconciliations.
  const digests = new RealmDigests(init.realms, { store, now })
  const sync = new SyncService(
    {
      realms: init.realms,
      intervalMs: init.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS,
      timeoutMs: init.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
    },
    {
      libp2p,
      store,
      digests,
      now,
      auth,
      originAllowed,
      onMerged: (outcome, record) => {
        metrics.counters.countRecord(outcome)
        if (outcome === 'conflict') reportConflict(record.realm, record.origin)
      },
      onRefused: (reason, records) => metrics.counters.countRecordRefusal('sync', reason, records),
      penalize: (peer, reason) => penalize(peer, reason),
      ...(logger !== undefined ? { logger } : {}),
    },
  )

  let startedAt = 0
  let stopPruning: (() => void) | undefined

  const node: MeshNode = {
    peerId: libp2p.peerId,
    cache,
    store,
    registry,
    counters: metrics.counters,
    libp2p,
    async start() {
      libp2p.addEventListener('peer:discovery', onDiscovery as never)
      await libp2p.start()
      await peerExchange.start()
      seedDialer.start()
      digests.start()
      await sync.start()
      await broadcast?.start()
      for (const topic of topics.values()) pubsub.subscribe(topic)
      startedAt = Date.now()
      stopPruning = startPruning(store, now, init.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS)
      logger?.info(
        { peerId: libp2p.peerId.toString(), listen: node.multiaddrs(), realms: init.realms },
        'mesh started',
      )
    },
    async stop() {
      publisher.stop()
      stopPruning?.()
      libp2p.removeEventListener('peer:discovery', onDiscovery as never)
      seedDialer.stop()
      await peerExchange.stop()
      await sync.stop()
      digests.stop()
      await broadcast?.stop()
      await libp2p.stop()
      logger?.info('mesh stopped')
    },
    flush: () => publisher.flush(),
    setSeeds: (seeds) => seedDialer.setSeeds(seeds),
    setAllowPeers(peers) {
      allowPeers = peers !== undefined ? new Set(peers) : undefined
      for (const peer of libp2p.getPeers()) {
        if (refusedByAllowlist(peer)) libp2p.hangUp(peer).catch(() => {})
      }
    },
    multiaddrs: () => libp2p.getMultiaddrs().map((ma) => ma.toString()),
    status() {
      const stats = store.stats()
      const c = metrics.counters
      const realms: Record<string, RealmStatus> = {}
      for (const [realm, topic] of topics) {
        realms[realm] = {
          meshPeers: meshPeersOf(topic),
          subscribers: pubsub.getSubscribers(topic).length,
          entries: stats.realms[realm]?.entries ?? 0,
          bytes: stats.realms[realm]?.bytes ?? 0,
        }
      }
      const peers = libp2p.getPeers().map((p) => p.toString())
      return {
        peerId: libp2p.peerId.toString(),
        meshName,
        listenAddrs: node.multiaddrs(),
        connectedPeers: peers.length,
        peers,
        realms,
        replica: {
          entries: stats.entries,
          bytes: stats.bytes,
          evictions: stats.evictions,
          expirations: stats.expirations,
        },
        records: {
          published: c.recordsPublished,
          received: [...c.recordsReceived.values()].reduce((a, b) => a + b, 0),
          stored: c.recordsStored,
          messagesPublished: c.messagesPublished,
          messagesReceived: c.messagesReceived,
          rejected: c.rejected,
          ignored: c.ignored,
          refused: Object.fromEntries(c.refused),
          clockSkewSuspected: c.clockSkewSuspected,
        },
        propagationMs: {
          samples: propagation.count,
          p50: propagation.quantile(0.5) ?? null,
          p99: propagation.quantile(0.99) ?? null,
        },
        sync: { ...sync.stats },
        broadcast: broadcast?.stats() ?? null,
        uptimeMs: startedAt === 0 ? 0 : Date.now() - startedAt,
      }
    },
  }
  return node
}
