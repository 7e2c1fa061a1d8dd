import type { ADMIN_API_VERSION } from './contract.ts'
import type { MeshDegreeTargets } from './status-document.ts'

/** One open connection to a peer. */
export interface PeerConnectionEntry {
  /** Who dialled whom. */
  direction: 'inbound' | 'outbound'
  remoteAddr: string
  /** Round trip measured by libp2p's connection monitor (every 30 s); null until the first. */
  latencyMs: number | null
  /** Ms since the epoch. */
  openedAt: number
}

/** One connected peer. */
export interface PeerEntry {
  peerId: string
  /** Addresses the peer announced or that this node dialled. */
  addresses: string[]
  /** Of the oldest open connection. */
  direction: 'inbound' | 'outbound'
  latencyMs: number | null
  connections: PeerConnectionEntry[]
  /** Realms whose gossip mesh holds the peer (records travel over these links). */
  meshRealms: string[]
  /** Realms the peer is subscribed to (it may still be outside the gossip mesh for them). */
  subscribedRealms: string[]
  /** gossipsub's score: below 0 the peer misbehaved; null when unreadable. */
  score: number | null
}

/** `GET /peers`: each connected peer, sorted by id. */
export interface PeersDocument {
  schema: typeof ADMIN_API_VERSION
  /** This node's peer id. */
  peerId: string
  /** The realms this node serves. */
  realms: string[]
  meshDegree: MeshDegreeTargets
  peers: PeerEntry[]
}
