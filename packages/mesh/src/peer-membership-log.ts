import type { Connection, Libp2pEvents, PeerId, StreamCloseEvent, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Logger } from '@tlsmesh/store'
import { connectedPeers } from './network-components.ts'

/** Why the last connection to a peer closed, as far as this node can tell. */
export type PeerLostReason = 'closed-locally' | 'closed-by-peer' | (string & {})

interface LastClose {
  address: string
  reason: PeerLostReason
}

export interface PeerMembershipLogComponents {
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  events: TypedEventTarget<Libp2pEvents>
  logger: Logger
}

/**
 * `peer joined` and `peer lost` info lines, one per peer (not per connection), the lines operators
 * of Consul and Serf fleets grep for: the peer id, its address, why it left when known, and how many
 * peers remain. A connection's `close` event says who closed it, or the error's class name (a
 * bounded set, never peer-supplied text).
 */
export class PeerMembershipLog {
  readonly #components: PeerMembershipLogComponents
  /** Bounded by the connection limit: an entry lives from a connection's close to the peer's disconnect. */
  readonly #lastClose = new Map<string, LastClose>()

  constructor(components: PeerMembershipLogComponents) {
    this.#components = components
  }

  start(): void {
    const { events } = this.#components
    events.addEventListener('connection:open', this.#onConnectionOpen)
    events.addEventListener('peer:connect', this.#onConnect)
    events.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  /** Before libp2p closes its connections: a shutdown does not log every peer as lost. */
  beforeStop(): void {
    const { events } = this.#components
    events.removeEventListener('connection:open', this.#onConnectionOpen)
    events.removeEventListener('peer:connect', this.#onConnect)
    events.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#lastClose.clear()
  }

  stop(): void {}

  readonly #onConnectionOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    connection.addEventListener(
      'close',
      (closed: StreamCloseEvent) => {
        const reason =
          closed.error !== undefined
            ? errorReason(closed.error, closed.local === true)
            : closed.local === true
              ? 'closed-locally'
              : 'closed-by-peer'
        this.#lastClose.set(connection.remotePeer.toString(), {
          address: connection.remoteAddr.toString(),
          reason,
        })
      },
      { once: true },
    )
  }

  readonly #onConnect = (event: CustomEvent<PeerId>): void => {
    const { connectionManager, logger } = this.#components
    const peer = event.detail
    const connection = connectionManager.getConnections(peer)[0]
    logger.info(
      {
        peer: peer.toString(),
        ...(connection !== undefined
          ? { address: connection.remoteAddr.toString(), direction: connection.direction }
          : {}),
        peers: connectedPeers(connectionManager).length,
      },
      'peer joined',
    )
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const { connectionManager, logger } = this.#components
    const peer = event.detail.toString()
    const peers = connectedPeers(connectionManager).length
    // libp2p dispatches `peer:disconnect` from inside the connection's own `close` dispatch, before
    // the listener added above has run: read what it recorded once that dispatch is over.
    queueMicrotask(() => {
      const last = this.#lastClose.get(peer)
      this.#lastClose.delete(peer)
      logger.info(
        { peer, ...(last !== undefined ? { address: last.address, reason: last.reason } : {}), peers },
        'peer lost',
      )
    })
  }
}

/**
 * A bounded word for a connection's error: the system error code (`ECONNRESET`, `ETIMEDOUT`), else
 * the error's class name, else who closed it. Never the message, which may carry a peer's bytes.
 */
function errorReason(err: Error, local: boolean): PeerLostReason {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code
  if (err.name !== 'Error' && /^[A-Za-z]{1,60}$/.test(err.name)) return err.name
  return local ? 'closed-locally' : 'closed-by-peer'
}
