import type {
  IdentifyResult,
  PeerId,
  PeerStore,
  Stream,
  StreamCloseEvent,
  StreamMessageEvent,
} from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@tlsmesh/store'
import type { MeshClock, TimerHandle } from './clock.ts'
import { TOPIC_PREFIX } from './constants.ts'
import { connectedPeers, type NetworkComponents } from './network-components.ts'
import { PeerRedial } from './peer-redial.ts'
import { randomSample } from './random-sample.ts'

export const PEER_EXCHANGE_PROTOCOL = `${TOPIC_PREFIX}/peers/1.0.0`
const MAX_PEERS = 64
const MAX_ADDRS_PER_PEER = 8
const MAX_RESPONSE_BYTES = 64 * 1024
const REQUEST_TIMEOUT_MS = 5000
/** Top-up rounds while below the target: soon after start (peers join at the same time), then rarely. */
const FIRST_ROUND_MS = 500
const MAX_ROUND_MS = 60_000

interface PeerEntry {
  id: string
  addrs: string[]
}

export interface PeerExchangeInit {
  /** Stop dialing once this many connections are open. */
  targetPeers: number
}

export interface PeerExchangeComponents extends NetworkComponents {
  connectionManager: Pick<ConnectionManager, 'getConnections' | 'openStream' | 'openConnection'>
  peerStore: Pick<PeerStore, 'get' | 'merge'>
  clock: MeshClock
  logger?: Logger
}

/**
 * Peer exchange: when a node connects to a peer (a seed, say), it asks that peer for the peers it is
 * connected to and dials them. Bootstrap alone only ever connects a node to its seeds, and announcing
 * on a pubsub topic costs every node bandwidth forever; this costs one small request per new
 * connection, and the mesh is whole as soon as the dials complete. Peers it loses are redialed (see
 * peer-redial.ts), so that the two halves of a partition find each other again when it heals.
 */
export class PeerExchange {
  readonly #init: PeerExchangeInit
  readonly #components: PeerExchangeComponents
  readonly #asked = new Set<string>()
  #roundMs = FIRST_ROUND_MS
  #timer: TimerHandle | undefined
  readonly #redial: PeerRedial

  constructor(init: PeerExchangeInit, components: PeerExchangeComponents) {
    this.#init = init
    this.#components = components
    this.#redial = new PeerRedial({ protocol: PEER_EXCHANGE_PROTOCOL }, components)
  }

  async start(): Promise<void> {
    const { registrar, events } = this.#components
    await registrar.handle(PEER_EXCHANGE_PROTOCOL, (stream, connection) =>
      this.#answer(stream, connection.remotePeer),
    )
    events.addEventListener('peer:identify', this.#onIdentify)
    events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#redial.start()
    this.#schedule()
  }

  #schedule(): void {
    this.#timer = this.#components.clock.setTimer(this.#roundMs, () => {
      this.#round().finally(() => {
        if (this.#timer !== undefined) this.#schedule()
      })
    })
  }

  /** Asks one random connected peer for its peers while this node has fewer than it wants. */
  async #round(): Promise<void> {
    const { connectionManager } = this.#components
    const peers = connectedPeers(connectionManager)
    const before = connectionManager.getConnections().length
    if (peers.length === 0 || before >= this.#init.targetPeers) {
      this.#roundMs = Math.min(this.#roundMs * 2, MAX_ROUND_MS)
      return
    }
    const peer = peers[Math.floor(Math.random() * peers.length)]!
    const dialed = await this.#ask(peer).catch(() => 0)
    this.#roundMs = dialed > 0 ? FIRST_ROUND_MS : Math.min(this.#roundMs * 2, MAX_ROUND_MS)
  }

  async stop(): Promise<void> {
    const { registrar, events } = this.#components
    this.#components.clock.clearTimer(this.#timer)
    this.#timer = undefined
    this.#redial.stop()
    events.removeEventListener('peer:identify', this.#onIdentify)
    events.removeEventListener('peer:disconnect', this.#onDisconnect)
    await registrar.unhandle(PEER_EXCHANGE_PROTOCOL)
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#asked.delete(event.detail.toString())
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = event.detail
    if (!protocols.includes(PEER_EXCHANGE_PROTOCOL)) return
    if (this.#components.connectionManager.getConnections().length >= this.#init.targetPeers) return
    const key = peerId.toString()
    if (this.#asked.has(key)) return
    this.#asked.add(key)
    this.#ask(peerId).catch((err: Error) =>
      this.#components.logger?.debug({ err: err.message }, 'peer exchange failed'),
    )
  }

  async #answer(stream: Stream, requester: PeerId): Promise<void> {
    const { connectionManager, peerStore } = this.#components
    const entries: PeerEntry[] = []
    // In random order: a seed answers every newcomer, and the same list would make them all dial
    // the seed's first peers.
    for (const peer of randomSample(connectedPeers(connectionManager))) {
      if (peer.equals(requester) || entries.length >= MAX_PEERS) continue
      try {
        const known = await peerStore.get(peer)
        if (!known.protocols.includes(PEER_EXCHANGE_PROTOCOL)) continue
        const addrs = known.addresses.slice(0, MAX_ADDRS_PER_PEER).map((a) => a.multiaddr.toString())
        if (addrs.length > 0) entries.push({ id: peer.toString(), addrs })
      } catch {
        // Not in the peer store (yet): skip it.
      }
    }
    stream.send(new TextEncoder().encode(JSON.stringify({ peers: entries })))
    await stream.close()
  }

  /** Returns how many new peers it dialed. */
  async #ask(peer: PeerId): Promise<number> {
    const { connectionManager, peerStore, peerId } = this.#components
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    const stream = await connectionManager.openStream(peer, PEER_EXCHANGE_PROTOCOL, { signal })
    let response: Uint8Array
    try {
      response = await readToEnd(stream, MAX_RESPONSE_BYTES, signal)
    } finally {
      await stream.close().catch(() => {})
    }
    let dialed = 0
    for (const entry of parsePeerList(response)) {
      // The dials below are not awaited: count them, or every listed peer would be dialed.
      if (connectionManager.getConnections().length + dialed >= this.#init.targetPeers) break
      if (entry.id.equals(peerId) || connectionManager.getConnections(entry.id).length > 0) continue
      await peerStore.merge(entry.id, { multiaddrs: entry.addrs })
      dialed++
      connectionManager
        .openConnection(entry.id, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
        .catch((err: Error) => {
          this.#components.logger?.debug({ err: err.message }, 'dial of an exchanged peer failed')
        })
    }
    return dialed
  }
}

/**
 * Reads until the remote closes its writable end. Not `for await` nor the 'end' event alone: the answer
 * and the remote's close usually arrive while `openStream` is still negotiating, whose reader then
 * pushes the bytes back after 'end' and 'remoteCloseWrite' have fired, so neither comes again and
 * the exchange would hang until the connection closes. Done is: the remote closed, and nothing
 * unread.
 */
function readToEnd(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let size = 0
    const finish = (err?: Error): void => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', check)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (err === undefined) resolve(Buffer.concat(chunks))
      else reject(err)
    }
    function check(): void {
      if (stream.remoteWriteStatus === 'closed' && stream.readBufferLength === 0) finish()
    }
    const onMessage = (event: StreamMessageEvent): void => {
      const bytes = event.data instanceof Uint8Array ? event.data : event.data.subarray()
      size += bytes.byteLength
      if (size > maxBytes) {
        const err = new Error('peer exchange response too large')
        stream.abort(err)
        finish(err)
        return
      }
      chunks.push(bytes)
      // The stream empties its buffer after this handler returns.
      queueMicrotask(check)
    }
    const onClose = (event: StreamCloseEvent): void => {
      if (event.error !== undefined) finish(event.error)
      else check()
    }
    const onAbort = (): void => {
      const err = signal.reason instanceof Error ? signal.reason : new Error('peer exchange timed out')
      stream.abort(err)
      finish(err)
    }
    // Adding the first 'message' listener delivers what is buffered, in a microtask.
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', check)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
    check()
  })
}

/** Parses a peer list from a remote peer: anything malformed is dropped, never thrown. */
export function parsePeerList(
  bytes: Uint8Array,
): Array<{ id: PeerId; addrs: ReturnType<typeof multiaddr>[] }> {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return []
  }
  const peers = (parsed as { peers?: unknown })?.peers
  if (!Array.isArray(peers)) return []
  const result: Array<{ id: PeerId; addrs: ReturnType<typeof multiaddr>[] }> = []
  for (const entry of peers.slice(0, MAX_PEERS)) {
    const { id, addrs } = (entry ?? {}) as { id?: unknown; addrs?: unknown }
    if (typeof id !== 'string' || !Array.isArray(addrs)) continue
    try {
      const parsedAddrs = addrs
        .slice(0, MAX_ADDRS_PER_PEER)
        .filter((a): a is string => typeof a === 'string')
        .map((a) => multiaddr(a))
      if (parsedAddrs.length > 0) result.push({ id: peerIdFromString(id), addrs: parsedAddrs })
    } catch {
      // An invalid peer id or address: skip the entry.
    }
  }
  return result
}
