import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { resolveSyncLimits, type WireLimits } from '@tlsmesh/wire'
import { Registry } from 'prom-client'
import type { BroadcastStats } from '../broadcast/broadcast-stats.ts'
import { realClock } from '../clock.ts'
import { disseminate } from '../dissemination.ts'
import { createMeshLibp2p, type MeshLibp2pInit } from '../mesh-libp2p.ts'
import { type CountersSnapshot, MeshCounters } from '../mesh-metrics.ts'
import { realmPeersOf } from '../mesh-status.ts'
import { type MeshDegreeTargets, meshDegreeOf, type PeerReportResult, reportPeers } from '../peer-report.ts'
import { RecordAuthenticator } from '../record-auth.ts'
import { RecordPublisher, type RecordPublisherInit } from '../record-publisher.ts'
import { peerPolicyOf } from '../replica-side.ts'
import { SyncReplicaClient } from '../sync/replica-port.ts'
import type { SyncStats } from '../sync/sync-service.ts'
import { BatchValidationClient } from './batch-port.ts'
import { type LogLevel, portLogger } from './port-logger.ts'
import { RemoteIngest } from './remote-ingest.ts'
import type { ThreadPort } from './thread-port.ts'
import { LocalWritesClient } from './write-port.ts'

/** What a mesh's transport thread is started with: plain data, as it crosses from the replica's thread. */
export interface MeshTransportInit {
  /** The node's identity, as `privateKeyToProtobuf` makes it. */
  privateKey: Uint8Array
  meshName: string
  libp2p: MeshLibp2pInit
  publisher: RecordPublisherInit
  wireLimits: Partial<WireLimits>
  allowPeers?: string[]
  realmSigners?: Record<string, string[]>
  fallbackDegree: MeshDegreeTargets
  /** The levels the server thread's logger writes; none: no logger, nothing sent. */
  logLevels: LogLevel[]
}

/** One port per kind of traffic between the transport's thread and the replica's. */
export interface MeshTransportPorts {
  control: ThreadPort
  sync: ThreadPort
  batches: ThreadPort
  writes: ThreadPort
  logs: ThreadPort
}

/** What the replica's thread reads of the transport for `status()` and the metrics, at a moment. */
export interface TransportSnapshot {
  multiaddrs: string[]
  peers: string[]
  realms: Record<string, { meshPeers: number; subscribers: number }>
  counters: CountersSnapshot
  sync: SyncStats
  broadcast: BroadcastStats | null
  degree: MeshDegreeTargets
}

export type TransportRequest = { call: number } & (
  | { op: 'start' | 'stop' | 'snapshot' | 'peers' | 'metrics' }
  | { op: 'connect'; address: string }
  | { op: 'set-seeds'; seeds: string[] }
  | { op: 'set-allow-peers'; peers: string[] | undefined }
)

export type TransportReply = { call: number } & ({ value: unknown } | { error: string })

/**
 * The mesh's transport, on a thread of its own: libp2p and its services (the tree, gossipsub,
 * catch-up's transport, peer exchange, the policy), the signature checks and the publisher. What it
 * receives goes to the replica's thread (ports.batches, ports.sync), and the server's writes come
 * from there to be published (ports.writes); `ports.control` starts, stops and asks it.
 */
export async function startMeshTransport(init: MeshTransportInit, ports: MeshTransportPorts): Promise<void> {
  const privateKey = privateKeyFromProtobuf(init.privateKey)
  const clock = realClock
  const now = (): number => clock.now()
  const self = peerIdFromPrivateKey(privateKey).toString()
  // The server thread's logger carries the mesh's bindings already.
  const logger = init.logLevels.length > 0 ? portLogger(ports.logs, init.logLevels) : undefined
  // What the server's thread shows of this thread's metrics (relayed-metrics.ts): libp2p's own and the
  // pre-key refusals. The mesh's counters cross in snapshots, to be summed with that thread's.
  const registry = new Registry()
  const counters = new MeshCounters()
  const auth = new RecordAuthenticator(privateKey, self)
  const policy = peerPolicyOf(init, self, now)
  const ingest = new RemoteIngest({
    limits: init.wireLimits,
    counters,
    auth,
    replica: new BatchValidationClient(ports.batches),
  })
  const replica = new SyncReplicaClient(ports.sync, resolveSyncLimits(init.libp2p.sync.limits))
  const libp2p = await createMeshLibp2p(init.libp2p, {
    ...{ privateKey, registry, replica, auth, policy, ingest, clock },
    ...(logger !== undefined ? { logger } : {}),
  })
  const { topics } = init.libp2p
  const publisher = new RecordPublisher(init.publisher, {
    counters,
    clock,
    auth,
    attachProof: (record, proof) => writes.attachProof(record, proof),
    publish: (realm, batch) => disseminate(libp2p.services, topics, realm, batch),
    onError: (err) => logger?.warn({ err: (err as Error).message }, 'publish failed'),
  })
  const writes = new LocalWritesClient(
    ports.writes,
    (record) => publisher.add(record),
    () => publisher.flush(),
  )
  const snapshot = (): TransportSnapshot => {
    const { pubsub, sync, broadcast } = libp2p.services
    return {
      multiaddrs: libp2p.getMultiaddrs().map(String),
      peers: libp2p.getPeers().map(String),
      realms: realmPeersOf(topics, pubsub),
      counters: counters.snapshot(),
      sync: { ...sync.stats },
      broadcast: broadcast?.stats() ?? null,
      degree: meshDegreeOf(pubsub, init.fallbackDegree),
    }
  }
  const handlers: Record<TransportRequest['op'], (request: never) => unknown> = {
    start: async () => {
      await libp2p.start()
      for (const topic of topics.values()) libp2p.services.pubsub.subscribe(topic)
      return snapshot()
    },
    stop: async () => {
      // The server's last writes come on another port: a turn for them to arrive first.
      await new Promise((resolve) => setImmediate(resolve))
      publisher.stop()
      await libp2p.stop()
    },
    snapshot,
    metrics: () => registry.getMetricsAsJSON(),
    peers: (): Promise<PeerReportResult> =>
      reportPeers(libp2p, libp2p.services.pubsub, {
        meshName: init.meshName,
        realms: [...topics.keys()],
        fallbackDegree: init.fallbackDegree,
      }),
    connect: async ({ address }: { address: string }) => {
      await libp2p.dial(multiaddr(address))
    },
    'set-seeds': ({ seeds }: { seeds: string[] }) => libp2p.services.seeds.setSeeds(seeds),
    'set-allow-peers': ({ peers }: { peers: string[] | undefined }) => policy.setAllowPeers(peers),
  }
  ports.control.on('message', (request: TransportRequest) => {
    Promise.resolve()
      .then(() => handlers[request.op](request as never))
      .then(
        (value) => ports.control.postMessage({ call: request.call, value } satisfies TransportReply),
        (err: unknown) =>
          ports.control.postMessage({
            call: request.call,
            error: err instanceof Error ? err.message : String(err),
          } satisfies TransportReply),
      )
  })
}
