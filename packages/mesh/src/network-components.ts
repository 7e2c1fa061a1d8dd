import type { Libp2pEvents, PeerId, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

/**
 * What the mesh's protocols use of libp2p: the parts of libp2p's own service components that open
 * streams, serve a protocol and hear of peers. Each protocol is a libp2p service built from these
 * (as identify and ping are), so none holds a libp2p handle.
 */
export interface NetworkComponents {
  peerId: PeerId
  registrar: Pick<Registrar, 'handle' | 'unhandle'>
  connectionManager: Pick<ConnectionManager, 'getConnections' | 'openStream'>
  events: TypedEventTarget<Libp2pEvents>
}

/** The peers this node holds at least one connection to. */
export function connectedPeers(connectionManager: Pick<ConnectionManager, 'getConnections'>): PeerId[] {
  const peers = new Map<string, PeerId>()
  for (const { remotePeer } of connectionManager.getConnections())
    peers.set(remotePeer.toString(), remotePeer)
  return [...peers.values()]
}

/**
 * The network parts of libp2p's components, picked one by one: libp2p passes its services a proxy
 * whose members a spread would not copy.
 */
export function networkOf(components: NetworkComponents): NetworkComponents {
  const { peerId, registrar, connectionManager, events } = components
  return { peerId, registrar, connectionManager, events }
}
