import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { realmTopic } from './topics.ts'

/** gossipsub's mesh degree targets: it grafts below `Dlo`, prunes above `Dhi`, aiming at `D`. */
export interface MeshDegreeTargets {
  D: number
  Dlo: number
  Dhi: number
}

export interface PeerConnectionReport {
  direction: 'inbound' | 'outbound'
  remoteAddr: string
  /** Round trip measured by libp2p's connection monitor (every 30 s); null until the first ping. */
  latencyMs: number | null
  openedAt: number
}

export interface PeerReport {
  peerId: string
  /** Addresses the peer announced (identify) or that we dialled, from the peer store. */
  addresses: string[]
  /** Of the oldest open connection: who dialled whom. */
  direction: 'inbound' | 'outbound'
  latencyMs: number | null
  connections: PeerConnectionReport[]
  /** Realms whose gossip mesh holds this peer (records travel over these links). */
  meshRealms: string[]
  /** Realms the peer is subscribed to (it may still be outside our mesh for them). */
  subscribedRealms: string[]
  /** gossipsub's score: below 0 the peer misbehaved (invalid messages, broken promises). */
  score: number | null
}

export interface PeerReportResult {
  meshDegree: MeshDegreeTargets
  peers: PeerReport[]
}

/**
 * What `getMeshPeers`, `score` and `opts` look like on gossipsub's implementation class: they are
 * not on its exported interface, so the report reads them defensively and degrades to nulls.
 */
interface GossipSubInternals {
  getMeshPeers?(topic: string): string[]
  getSubscribers(topic: string): PeerId[]
  score?: { score(peerId: string): number }
  opts?: Partial<MeshDegreeTargets>
}

export interface PeerReportInit {
  meshName: string
  realms: readonly string[]
  /** Used when gossipsub does not expose its options. */
  fallbackDegree: MeshDegreeTargets
}

/**
 * One row per connected peer for operators (`GET /peers`, `tlsmesh peers`): addresses, direction,
 * ping latency, gossip mesh membership per realm and score. O(peers x realms); called on request only.
 */
export async function reportPeers(
  libp2p: Pick<Libp2p, 'getConnections' | 'peerStore'>,
  pubsub: unknown,
  init: PeerReportInit,
): Promise<PeerReportResult> {
  const gossip = pubsub as GossipSubInternals
  const topics = init.realms.map((realm) => ({ realm, topic: realmTopic(init.meshName, realm) }))
  const meshByRealm = new Map(
    topics.map(({ realm, topic }) => [realm, new Set(gossip.getMeshPeers?.(topic) ?? [])]),
  )
  const subscribersByRealm = new Map(
    topics.map(({ realm, topic }) => [realm, new Set(gossip.getSubscribers(topic).map((p) => p.toString()))]),
  )

  const byPeer = new Map<string, { peer: PeerId; connections: Connection[] }>()
  for (const connection of libp2p.getConnections()) {
    const key = connection.remotePeer.toString()
    const entry = byPeer.get(key) ?? { peer: connection.remotePeer, connections: [] }
    entry.connections.push(connection)
    byPeer.set(key, entry)
  }

  const peers: PeerReport[] = []
  for (const [id, { peer, connections }] of byPeer) {
    connections.sort((a, b) => a.timeline.open - b.timeline.open)
    const reports: PeerConnectionReport[] = connections.map((c) => ({
      direction: c.direction,
      remoteAddr: c.remoteAddr.toString(),
      latencyMs: typeof c.rtt === 'number' && Number.isFinite(c.rtt) ? c.rtt : null,
      openedAt: c.timeline.open,
    }))
    let addresses: string[] = []
    try {
      const stored = await libp2p.peerStore.get(peer)
      addresses = stored.addresses.map((a) => a.multiaddr.toString())
    } catch {
      // Not in the peer store (yet): the connection's own address is all we know.
    }
    if (addresses.length === 0) addresses = [...new Set(reports.map((r) => r.remoteAddr))]
    let score: number | null = null
    try {
      const value = gossip.score?.score(id)
      if (typeof value === 'number' && Number.isFinite(value)) score = value
    } catch {
      score = null
    }
    const first = reports[0]!
    peers.push({
      peerId: id,
      addresses,
      direction: first.direction,
      latencyMs: reports.find((r) => r.latencyMs !== null)?.latencyMs ?? null,
      connections: reports,
      meshRealms: init.realms.filter((realm) => meshByRealm.get(realm)?.has(id) === true),
      subscribedRealms: init.realms.filter((realm) => subscribersByRealm.get(realm)?.has(id) === true),
      score,
    })
  }
  peers.sort((a, b) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0))
  return { meshDegree: meshDegreeOf(pubsub, init.fallbackDegree), peers }
}

/** The D/Dlo/Dhi gossipsub runs with, or `fallback` when its options are not readable. */
export function meshDegreeOf(pubsub: unknown, fallback: MeshDegreeTargets): MeshDegreeTargets {
  const opts = (pubsub as GossipSubInternals).opts
  const pick = (value: unknown, otherwise: number): number =>
    typeof value === 'number' && Number.isInteger(value) ? value : otherwise
  return {
    D: pick(opts?.D, fallback.D),
    Dlo: pick(opts?.Dlo, fallback.Dlo),
    Dhi: pick(opts?.Dhi, fallback.Dhi),
  }
}
