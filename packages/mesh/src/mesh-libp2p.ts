import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p, PeerDiscovery, PeerStore, PrivateKey } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import type { Logger } from '@tlsmesh/store'
import { createLibp2p, type ServiceFactoryMap } from 'libp2p'
import type { Registry } from 'prom-client'
import { BroadcastService, type BroadcastServiceInit } from './broadcast/broadcast-service.ts'
import type { MeshClock } from './clock.ts'
import {
  INBOUND_CONNECTION_THRESHOLD,
  MAX_INCOMING_PENDING_CONNECTIONS,
  PING_INTERVAL_MS,
} from './constants.ts'
import { type DiscoveryDialer, discoveryDialer } from './discovery-dialer.ts'
import type { GossipVerdict } from './gossip-validation.ts'
import { parseMeshKey } from './mesh-key.ts'
import { type NetworkComponents, networkOf } from './network-components.ts'
import { PeerExchange } from './peer-exchange.ts'
import { PeerMembershipLog } from './peer-membership-log.ts'
import { type PeerPolicy, type PeerPolicyService, peerPolicyService } from './peer-policy.ts'
import { createPreKeyAdmission } from './pre-key-admission.ts'
import { createPrivateNetworkProtector } from './private-network.ts'
import type { RecordAuthenticator } from './record-auth.ts'
import type { TransportIngest } from './record-ingest.ts'
import { createSeedDialer, type SeedDialer } from './seed-dialer.ts'
import type { SyncReplicaSessions } from './sync/sync-replica.ts'
import { SyncService, type SyncServiceInit } from './sync/sync-service.ts'

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

/**
 * The mesh's libp2p services: libp2p builds, starts and stops each of them. A type, not an
 * interface: libp2p's service map wants the index signature only a type alias gets implicitly.
 */
export type MeshServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  policy: PeerPolicyService
  discovery: DiscoveryDialer
  seeds: SeedDialer
  exchange: PeerExchange
  sync: SyncService
  /** The broadcast tree; absent when records travel on gossipsub only. */
  broadcast?: BroadcastService
  /** `peer joined` and `peer lost` lines; absent without a logger. */
  membership?: PeerMembershipLog
}

export interface MeshLibp2pInit {
  listen: string[]
  announce?: string[]
  /** The mesh key file's contents; absent: no private network (development only). */
  meshKey?: Uint8Array | string
  /** Collect libp2p's own metrics into the registry. */
  libp2pMetrics: boolean
  maxConnections: number
  targetPeers: number
  seeds: string[]
  /** The multicast DNS service tag; absent: no mDNS. */
  mdnsServiceTag?: string
  gossip: GossipOptions
  /** Each served realm's gossipsub topic. */
  topics: Map<string, string>
  sync: SyncServiceInit
  /** The broadcast tree's settings; absent: records travel on gossipsub only. */
  broadcast?: BroadcastServiceInit
}

export interface MeshLibp2pComponents {
  privateKey: PrivateKey
  registry: Registry
  /** Catch-up's replica side: in this thread, or the replica's thread behind a port. */
  replica: SyncReplicaSessions
  auth: RecordAuthenticator
  policy: PeerPolicy
  ingest: TransportIngest
  clock: MeshClock
  logger?: Logger
}

/**
 * Builds (does not start) the libp2p node a mesh runs on: TCP, the private network, Noise, yamux,
 * identify, ping, gossipsub, and the mesh's own protocols as services.
 */
export async function createMeshLibp2p(
  init: MeshLibp2pInit,
  components: MeshLibp2pComponents,
): Promise<Libp2p<MeshServices>> {
  const { privateKey, registry, policy } = components
  // biome-ignore lint/suspicious/noExplicitAny: each discovery factory wants its own components subset
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (init.mdnsServiceTag !== undefined) peerDiscovery.push(mdns({ serviceTag: init.mdnsServiceTag }))
  return createLibp2p<MeshServices>({
    start: false,
    privateKey,
    addresses: {
      listen: init.listen,
      ...(init.announce !== undefined && init.announce.length > 0 ? { announce: init.announce } : {}),
    },
    // Opt-in: @libp2p/prometheus-metrics clears prom-client's global registry when it starts, which
    // would wipe an embedding application's own metrics.
    ...(init.libp2pMetrics ? { metrics: prometheusMetrics({ registry, collectDefaultMetrics: false }) } : {}),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // yamux's keep-alive pings only log when they fail; liveness is the connection monitor's below.
    streamMuxers: [yamux({ enableKeepAlive: false })],
    // Inbound connections that have not proven the key are capped and dropped quickly.
    ...(init.meshKey !== undefined
      ? {
          connectionProtector: createPrivateNetworkProtector({
            psk: parseMeshKey(init.meshKey),
            admission: createPreKeyAdmission({ registry, clock: components.clock }),
          }),
        }
      : {}),
    connectionGater: policy.gater(),
    connectionManager: {
      maxConnections: init.maxConnections,
      // A fleet often sits behind one NAT address or, in tests, on 127.0.0.1: the default
      // per-host inbound rate limit would reset most of the mesh's dials.
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
    },
    connectionMonitor: { pingInterval: PING_INTERVAL_MS },
    peerDiscovery,
    services: meshServices(init, components),
  })
}

/** What the mesh's service factories read of libp2p's components. */
interface Libp2pComponents extends NetworkComponents {
  connectionManager: ConnectionManager
  peerStore: PeerStore
}

const VERDICTS: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
}

function meshServices(
  init: MeshLibp2pInit,
  components: MeshLibp2pComponents,
): ServiceFactoryMap<MeshServices> {
  const { policy, ingest, logger, clock } = components
  const withLogger = logger !== undefined ? { logger } : {}
  return {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsubService(init, components),
    policy: peerPolicyService(policy),
    discovery: discoveryDialer({ targetPeers: init.targetPeers }, logger),
    seeds: ({ connectionManager }: Libp2pComponents) =>
      createSeedDialer(
        { seeds: init.seeds },
        {
          connectionManager,
          clock,
          ...(logger !== undefined ? { logger: logger.child({ module: 'seeds' }) } : {}),
        },
      ),
    exchange: (libp2p: Libp2pComponents) =>
      new PeerExchange(
        { targetPeers: init.targetPeers },
        {
          ...networkOf(libp2p),
          connectionManager: libp2p.connectionManager,
          peerStore: libp2p.peerStore,
          clock,
          ...withLogger,
        },
      ),
    sync: (libp2p: Libp2pComponents) =>
      new SyncService(init.sync, {
        ...networkOf(libp2p),
        replica: components.replica,
        clock,
        auth: components.auth,
        onRefused: (reason, records) => ingest.refused(reason, records),
        penalize: (peer, reason) => policy.penalize(peer, reason),
        ...withLogger,
      }),
    ...(init.broadcast !== undefined
      ? { broadcast: broadcastService(init, init.broadcast, components) }
      : {}),
    ...(logger !== undefined
      ? {
          membership: ({ connectionManager, events }: Libp2pComponents) =>
            new PeerMembershipLog({ connectionManager, events, logger }),
        }
      : {}),
  }
}

function gossipsubService(init: MeshLibp2pInit, { policy, ingest }: MeshLibp2pComponents) {
  const createGossipsub = gossipsub({
    D: init.gossip.D,
    Dlo: init.gossip.Dlo,
    Dhi: init.gossip.Dhi,
    heartbeatInterval: init.gossip.heartbeatMs,
    floodPublish: init.gossip.floodPublish,
    allowPublishToZeroTopicPeers: true,
    // Ids from the message bytes: two copies of a batch are one message, whoever relays them.
    msgIdFn: (msg) => createHash('sha256').update(msg.data).digest(),
    scoreParams: {
      // Every node of a fleet may share one address (NAT, loopback): no colocation penalty.
      IPColocationFactorWeight: 0,
      appSpecificScore: (peer: string) => policy.gossipScore(peer),
      appSpecificWeight: 1,
      topics: Object.fromEntries([...init.topics.values()].map((topic) => [topic, REALM_TOPIC_SCORE_PARAMS])),
    },
  })
  return (libp2pComponents: Parameters<typeof createGossipsub>[0]): GossipSub => {
    const pubsub = createGossipsub(libp2pComponents)
    for (const [realm, topic] of init.topics) {
      const validate = ingest.gossipValidator(realm)
      pubsub.topicValidators.set(topic, (_peer, msg) => {
        const verdict = validate(msg.type === 'signed' ? msg.from.toString() : undefined, msg.data)
        return typeof verdict === 'string' ? VERDICTS[verdict] : verdict.then((later) => VERDICTS[later])
      })
    }
    return pubsub
  }
}

function broadcastService(
  init: MeshLibp2pInit,
  broadcast: BroadcastServiceInit,
  { ingest, policy, clock, logger }: MeshLibp2pComponents,
) {
  return (libp2p: Libp2pComponents & { pubsub: GossipSub }): BroadcastService => {
    const { pubsub } = libp2p
    const service = new BroadcastService(broadcast, {
      ...networkOf(libp2p),
      subscribers: (realm) => pubsub.getSubscribers(init.topics.get(realm) ?? '').map(String),
      authenticate: (realm, origin, data) => ingest.authenticate(realm, origin, data),
      validate: (batch) => ingest.validate(batch),
      penalize: (peer, reason) => policy.penalize(peer, reason),
      clock,
      ...(logger !== undefined ? { logger } : {}),
    })
    pubsub.addEventListener('subscription-change', () => service.refreshNeighbours())
    return service
  }
}
