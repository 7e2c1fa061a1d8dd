import type { Libp2pEvents, PeerId, PeerInfo, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Logger } from '@tlsmesh/store'

export interface DiscoveryDialerInit {
  /** Dial discovered peers while this node holds fewer connections (dials in flight included). */
  targetPeers: number
}

export interface DiscoveryDialerComponents {
  peerId: PeerId
  connectionManager: Pick<ConnectionManager, 'getConnections' | 'openConnection'>
  events: TypedEventTarget<Libp2pEvents>
  logger?: Logger
}

/**
 * Dials the peers that discovery (mDNS, peer exchange answers) reports, up to the target: libp2p 3
 * has no auto-dialer. Dials in flight count toward the target, since libp2p reports every peer added
 * to the peer store as discovered (a peer exchange answer adds dozens at once), and dialing them all
 * would make every fleet a full mesh.
 */
export class DiscoveryDialer {
  readonly #init: DiscoveryDialerInit
  readonly #components: DiscoveryDialerComponents
  readonly #dialing = new Set<string>()

  constructor(init: DiscoveryDialerInit, components: DiscoveryDialerComponents) {
    this.#init = init
    this.#components = components
  }

  start(): void {
    this.#components.events.addEventListener('peer:discovery', this.#onDiscovery)
  }

  stop(): void {
    this.#components.events.removeEventListener('peer:discovery', this.#onDiscovery)
  }

  readonly #onDiscovery = (event: CustomEvent<PeerInfo>): void => {
    const { peerId, connectionManager, logger } = this.#components
    const peer = event.detail.id
    const key = peer.toString()
    if (peer.equals(peerId) || this.#dialing.has(key)) return
    if (connectionManager.getConnections(peer).length > 0) return
    if (connectionManager.getConnections().length + this.#dialing.size >= this.#init.targetPeers) return
    this.#dialing.add(key)
    connectionManager
      .openConnection(peer)
      .catch((err: Error) => logger?.debug({ err: err.message }, 'dial of a discovered peer failed'))
      .finally(() => this.#dialing.delete(key))
  }
}

/** `DiscoveryDialer` as a libp2p service factory. */
export function discoveryDialer(
  init: DiscoveryDialerInit,
  logger?: Logger,
): (components: Omit<DiscoveryDialerComponents, 'logger'>) => DiscoveryDialer {
  return ({ peerId, connectionManager, events }) =>
    new DiscoveryDialer(init, {
      peerId,
      connectionManager,
      events,
      ...(logger !== undefined ? { logger } : {}),
    })
}
