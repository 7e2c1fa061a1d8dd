import type { GossipSub } from '@libp2p/gossipsub'
import type { ReplicaStore } from '@tlsmesh/store'
import type { BroadcastStats } from './broadcast/broadcast-stats.ts'
import type { ValidationCode } from './errors.ts'
import type { MeshCounters } from './mesh-metrics.ts'
import type { PropagationWindow } from './propagation-window.ts'
import type { SyncStats } from './sync/sync-service.ts'

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

/** What a status is read from, at the moment it is asked for. */
export interface MeshStatusSources {
  peerId: string
  meshName: string
  listenAddrs: string[]
  peers: string[]
  /** Each served realm's gossipsub mesh peers and subscribers. */
  realmPeers: Record<string, { meshPeers: number; subscribers: number }>
  store: ReplicaStore
  counters: MeshCounters
  propagation: PropagationWindow
  sync: SyncStats
  broadcast: BroadcastStats | null
  uptimeMs: number
}

export function meshStatus(sources: MeshStatusSources): MeshStatus {
  const { store, counters: c, propagation } = sources
  const stats = store.stats()
  const realms: Record<string, RealmStatus> = {}
  for (const [realm, peers] of Object.entries(sources.realmPeers)) {
    realms[realm] = {
      ...peers,
      entries: stats.realms[realm]?.entries ?? 0,
      bytes: stats.realms[realm]?.bytes ?? 0,
    }
  }
  return {
    peerId: sources.peerId,
    meshName: sources.meshName,
    listenAddrs: sources.listenAddrs,
    connectedPeers: sources.peers.length,
    peers: sources.peers,
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
    sync: { ...sources.sync },
    broadcast: sources.broadcast,
    uptimeMs: sources.uptimeMs,
  }
}

/** Each realm's gossipsub mesh peers and subscribers, from its topic. */
export function realmPeersOf(
  topics: ReadonlyMap<string, string>,
  pubsub: Pick<GossipSub, 'getSubscribers'>,
): Record<string, { meshPeers: number; subscribers: number }> {
  // getMeshPeers is on the implementation, not the exported interface.
  const mesh = pubsub as unknown as { getMeshPeers(topic: string): string[] }
  const peers: Record<string, { meshPeers: number; subscribers: number }> = {}
  for (const [realm, topic] of topics) {
    peers[realm] = {
      meshPeers: mesh.getMeshPeers(topic).length,
      subscribers: pubsub.getSubscribers(topic).length,
    }
  }
  return peers
}
