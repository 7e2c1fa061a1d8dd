import type { Connection, Libp2p, PeerId, StreamCloseEvent } from '@libp2p/interface'
import type { Logger } from 'pino'

/** Why the last connection to a peer closed, as far as this node can tell. */
export type PeerLostReason = 'closed-locally' | 'closed-by-peer' | (string & {})

interface LastClose {
  address: string
  reason: PeerLostReason
}

/**
 * `peer joined` and `peer lost` info lines, one per peer (not per connection), the lines operators
 * of Consul and Serf fleets grep for: the peer id, its address, why it left when known, and how many
 * peers remain. Read from libp2p's own events through the mesh's public `libp2p`; a connection's
 * `close` event says who closed it, or the error's class name (a bounded set, never peer-supplied
 * text).
 */
export function watchPeerMembership(libp2p: Libp2p, logger: Logger): { stop(): void } {
  // Bounded by the connection limit: an entry lives from a connection's close to the peer's disconnect.
  const lastClose = new Map<string, LastClose>()
  const onConnectionOpen = (event: CustomEvent<Connection>): void => {
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
        lastClose.set(connection.remotePeer.toString(), {
          address: connection.remoteAddr.toString(),
          reason,
        })
      },
      { once: true },
    )
  }
  const onConnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail
    const connection = libp2p.getConnections(peer)[0]
    logger.info(
      {
        peer: peer.toString(),
        ...(connection !== undefined
          ? { address: connection.remoteAddr.toString(), direction: connection.direction }
          : {}),
        peers: libp2p.getPeers().length,
      },
      'peer joined',
    )
  }
  const onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString()
    const peers = libp2p.getPeers().length
    // libp2p dispatches `peer:disconnect` from inside the connection's own `close` dispatch, before
    // the listener added above has run: read what it recorded once that dispatch is over.
    queueMicrotask(() => {
      const last = lastClose.get(peer)
      lastClose.delete(peer)
      logger.info(
        { peer, ...(last !== undefined ? { address: last.address, reason: last.reason } : {}), peers },
        'peer lost',
      )
    })
  }
  libp2p.addEventListener('connection:open', onConnectionOpen)
  libp2p.addEventListener('peer:connect', onConnect)
  libp2p.addEventListener('peer:disconnect', onDisconnect)
  return {
    // Before the mesh stops: a shutdown does not log every peer as lost.
    stop() {
      libp2p.removeEventListener('connection:open', onConnectionOpen)
      libp2p.removeEventListener('peer:connect', onConnect)
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      lastClose.clear()
    },
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
