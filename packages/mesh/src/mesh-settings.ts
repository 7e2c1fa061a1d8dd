import {
  DEFAULT_BATCH_INTERVAL_MS,
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
  DEFAULT_REGRAFT_TIMEOUT_MS,
  DEFAULT_SHED_INTERVAL_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_SYNC_TIMEOUT_MS,
  DEFAULT_TARGET_PEERS,
} from './constants.ts'
import { InvalidMeshKeyError } from './errors.ts'
import type { MeshLibp2pInit } from './mesh-libp2p.ts'
import type { MeshNodeInit } from './mesh-node.ts'
import type { RecordPublisherInit } from './record-publisher.ts'
import { parseSeed } from './seed-address.ts'

// A mesh node's settings, checked and with the defaults filled in: the same whether its transport
// runs on the node's thread or on one of its own.

export function checkInit(init: MeshNodeInit): void {
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
  // A bad seed fails here (InvalidSeedError), before libp2p is built.
  for (const seed of init.seeds ?? []) parseSeed(seed)
}

/** The libp2p node's settings: the init's, with the defaults filled in. */
export function libp2pInit(
  init: MeshNodeInit,
  meshName: string,
  topics: Map<string, string>,
): MeshLibp2pInit {
  const tree = (init.dissemination ?? DEFAULT_DISSEMINATION) === 'tree'
  return {
    listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    ...(init.announce !== undefined ? { announce: init.announce } : {}),
    ...(init.meshKey !== undefined ? { meshKey: init.meshKey } : {}),
    libp2pMetrics: init.libp2pMetrics === true,
    maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    targetPeers: init.targetPeers ?? DEFAULT_TARGET_PEERS,
    seeds: init.seeds ?? [],
    ...(init.mdns === true ? { mdnsServiceTag: `tlsmesh-${meshName}.local` } : {}),
    gossip: {
      D: DEFAULT_GOSSIP_D,
      Dlo: DEFAULT_GOSSIP_DLO,
      Dhi: DEFAULT_GOSSIP_DHI,
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      floodPublish: false,
      ...init.gossip,
    },
    topics,
    sync: {
      realms: init.realms,
      intervalMs: init.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS,
      timeoutMs: init.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
    },
    ...(tree
      ? {
          broadcast: {
            realms: init.realms,
            graftTimeoutMs: DEFAULT_GRAFT_TIMEOUT_MS,
            regraftTimeoutMs: DEFAULT_REGRAFT_TIMEOUT_MS,
            lazyFlushMs: DEFAULT_LAZY_FLUSH_MS,
            lazyFanout: DEFAULT_LAZY_FANOUT,
            maxEagerPeers: init.maxEagerPeers ?? DEFAULT_MAX_EAGER_PEERS,
            shedIntervalMs: DEFAULT_SHED_INTERVAL_MS,
          },
        }
      : {}),
  }
}

/** The publisher's settings: the init's, with the defaults filled in. */
export function publisherInit(init: MeshNodeInit): RecordPublisherInit {
  return {
    maxBatchBytes: init.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES,
    maxBatchRecords: init.batchMaxRecords ?? DEFAULT_BATCH_MAX_RECORDS,
    flushIntervalMs: init.batchIntervalMs ?? DEFAULT_BATCH_INTERVAL_MS,
    limits: { ...init.wireLimits },
  }
}
