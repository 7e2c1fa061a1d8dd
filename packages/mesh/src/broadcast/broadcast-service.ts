import type { IdentifyResult, PeerId, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Logger } from '@tlsmesh/store'
import {
  type BroadcastFrame,
  BroadcastKind,
  DEFAULT_BROADCAST_LIMITS,
  decodeBroadcastFrame,
  encodeBroadcastFrame,
  WireDecodeError,
} from '@tlsmesh/wire'
import type { MeshClock } from '../clock.ts'
import { TOPIC_PREFIX } from '../constants.ts'
import type { AuthenticatedBatch } from '../gossip-validation.ts'
import type { NetworkComponents } from '../network-components.ts'
import type { BroadcastStats } from './broadcast-stats.ts'
import {
  type DeliveryVerdict,
  emptyPlumtreeCounters,
  type GossipPayload,
  type OutboundFrame,
  Plumtree,
  type PlumtreeCounters,
} from './plumtree.ts'

type FrameHandlers = {
  [K in BroadcastFrame['kind']]: (
    tree: Plumtree,
    peer: string,
    frame: Extract<BroadcastFrame, { kind: K }>,
  ) => void
}

/** What each kind of frame does to its realm's tree: a kind without a handler does not compile. */
const FRAME_HANDLERS: FrameHandlers = {
  [BroadcastKind.GOSSIP]: (tree, peer, frame) => tree.onGossip(peer, frame),
  [BroadcastKind.IHAVE]: (tree, peer, frame) => tree.onIHave(peer, frame.ids, frame.hops),
  [BroadcastKind.GRAFT]: (tree, peer, frame) => tree.onGraft(peer, frame.ids),
  [BroadcastKind.PRUNE]: (tree, peer, frame) => tree.onPrune(peer, frame.full),
}

function dispatchFrame<K extends BroadcastFrame['kind']>(
  tree: Plumtree,
  peer: string,
  frame: Extract<BroadcastFrame, { kind: K }>,
): void {
  // TypeScript cannot correlate a union key with its handler; K ties the frame to its kind.
  ;(FRAME_HANDLERS[frame.kind as K] as FrameHandlers[K])(tree, peer, frame)
}

export const BROADCAST_PROTOCOL = `${TOPIC_PREFIX}/broadcast/1.0.0`

/** Bytes a neighbour's outbound queue may hold before frames to it are dropped (and counted). */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024
const UTF8 = new TextDecoder('utf-8', { fatal: true })

export interface BroadcastServiceInit {
  realms: string[]
  graftTimeoutMs: number
  regraftTimeoutMs: number
  lazyFlushMs: number
  lazyFanout: number
  maxEagerPeers: number
  shedIntervalMs: number
}

/** What `authenticate` made of a payload: its origin's batch, or a verdict on a payload that is not. */
export type Authentication =
  | { batch: AuthenticatedBatch; verdict?: undefined }
  | { batch?: undefined; verdict: 'ignore' | 'reject' }

export interface BroadcastServiceComponents extends NetworkComponents {
  /** Peers that serve `realm` (from gossipsub's subscriptions): the realm's tree runs over them. */
  subscribers(realm: string): string[]
  /** Decodes a payload and checks that its origin signed it; the verdict counts the refusal. */
  authenticate(realm: string, origin: string, data: Uint8Array): Authentication
  /**
   * Validates and applies an authenticated batch; the one place verdicts are made. It may answer
   * later (a replica on another thread): the tree relays meanwhile.
   */
  validate(batch: AuthenticatedBatch): DeliveryVerdict | Promise<DeliveryVerdict>
  /** A neighbour sent something provably bad. */
  penalize(peer: string, reason: string): void
  /** The trees' clock; default `realClock`. */
  clock?: MeshClock
  logger?: Logger
}

interface Link {
  peer: string
  lp: LengthPrefixedStream<Stream>
  queue: Uint8Array[]
  queuedBytes: number
  writing: boolean
}

/**
 * Carries record batches over an epidemic broadcast tree per realm (plumtree.ts) on one long-lived
 * stream per neighbour and direction. Every payload (a record batch) carries its origin's signature,
 * which each receiver checks before it forwards or validates it, so a relay cannot forge records.
 */
export class BroadcastService {
  readonly #components: BroadcastServiceComponents
  readonly #trees = new Map<string, Plumtree>()
  readonly #links = new Map<string, Link>()
  /** A frame sent to several neighbours is encoded once. */
  readonly #encoded = new WeakMap<OutboundFrame, Uint8Array>()
  readonly #originBytes: Uint8Array
  /** The batch each authenticated payload decoded to, for its delivery right after. */
  readonly #authenticated = new WeakMap<GossipPayload, AuthenticatedBatch>()
  #framesDropped = 0
  #badFrames = 0
  #badSignatures = 0
  #linksReopened = 0
  #stopped = false

  constructor(init: BroadcastServiceInit, components: BroadcastServiceComponents) {
    this.#components = components
    this.#originBytes = new TextEncoder().encode(components.peerId.toString())
    for (const realm of init.realms) {
      this.#trees.set(
        realm,
        new Plumtree(
          {
            realm,
            graftTimeoutMs: init.graftTimeoutMs,
            regraftTimeoutMs: init.regraftTimeoutMs,
            lazyFlushMs: init.lazyFlushMs,
            lazyFanout: init.lazyFanout,
            maxEagerPeers: init.maxEagerPeers,
            shedIntervalMs: init.shedIntervalMs,
            cacheEntries: 4096,
            cacheTtlMs: 30_000,
            seenEntries: 200_000,
            seenTtlMs: 120_000,
          },
          {
            send: (peer, frame) => this.#send(peer, frame),
            authenticate: (payload, from) => this.#authenticate(payload, from),
            deliver: (payload, from) => this.#deliver(payload, from),
            ...(components.clock !== undefined ? { clock: components.clock } : {}),
          },
        ),
      )
    }
  }

  async start(): Promise<void> {
    const { registrar, events } = this.#components
    await registrar.handle(
      BROADCAST_PROTOCOL,
      (stream, connection) => this.#read(stream, connection.remotePeer),
      {
        maxInboundStreams: 2,
        maxOutboundStreams: 2,
      },
    )
    events.addEventListener('peer:identify', this.#onIdentify)
    events.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  async stop(): Promise<void> {
    const { registrar, events } = this.#components
    events.removeEventListener('peer:identify', this.#onIdentify)
    events.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#stopped = true
    for (const tree of this.#trees.values()) tree.stop()
    for (const link of this.#links.values()) link.lp.unwrap().abort(new Error('stopping'))
    this.#links.clear()
    await registrar.unhandle(BROADCAST_PROTOCOL)
  }

  /** Neighbours of `realm`'s tree: subscribed peers with an open broadcast link. */
  neighbours(realm: string): number {
    return this.#trees.get(realm)?.neighbours ?? 0
  }

  /**
   * Sends a batch this node signed (an encoded RecordBatch); returns how many neighbours it reached
   * (0: use a fallback).
   */
  publish(realm: string, data: Uint8Array): number {
    const tree = this.#trees.get(realm)
    // Neighbours are kept current by link openings and subscription changes (refreshNeighbours).
    if (tree === undefined || tree.neighbours === 0) return 0
    return tree.broadcast({ realm, origin: this.#originBytes, data, hops: 0 })
  }

  /** Re-reads which linked peers serve each realm (subscriptions change after links open). */
  refreshNeighbours(realm?: string): void {
    for (const [name, tree] of this.#trees) {
      if (realm !== undefined && name !== realm) continue
      const subscribed = new Set(this.#components.subscribers(name))
      for (const peer of this.#links.keys()) {
        if (subscribed.has(peer)) tree.addPeer(peer)
        else tree.removePeer(peer)
      }
    }
  }

  stats(): BroadcastStats {
    const totals = emptyPlumtreeCounters()
    const realms: BroadcastStats['realms'] = {}
    for (const [realm, tree] of this.#trees) {
      const { eagerPeers, lazyPeers, ...counters } = tree.stats
      realms[realm] = { eagerPeers, lazyPeers, graftTimeoutMs: tree.currentGraftTimeout() }
      for (const name of Object.keys(counters) as Array<keyof PlumtreeCounters>)
        totals[name] += counters[name]
    }
    return {
      ...totals,
      realms,
      framesDropped: this.#framesDropped,
      badFrames: this.#badFrames,
      badSignatures: this.#badSignatures,
      linksReopened: this.#linksReopened,
    }
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = event.detail
    if (!protocols.includes(BROADCAST_PROTOCOL) || this.#links.has(peerId.toString())) return
    this.#openLink(peerId).catch((err: Error) =>
      this.#components.logger?.debug({ err: err.message }, 'opening a broadcast link failed'),
    )
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#dropPeer(event.detail.toString())
  }

  #dropPeer(peer: string): void {
    this.#links.delete(peer)
    for (const tree of this.#trees.values()) tree.removePeer(peer)
  }

  async #openLink(peerId: PeerId): Promise<void> {
    const stream = await this.#components.connectionManager.openStream(peerId, BROADCAST_PROTOCOL, {
      signal: AbortSignal.timeout(10_000),
    })
    const peer = peerId.toString()
    const link: Link = { peer, lp: lpStream(stream), queue: [], queuedBytes: 0, writing: false }
    this.#links.set(peer, link)
    stream.addEventListener('close', () => {
      if (this.#links.get(peer) !== link) return
      this.#links.delete(peer)
      // Two nodes that dialed each other at once hold two connections until libp2p closes one; the
      // link may have been on that one. Still connected: open another, keeping the peer's place in
      // the trees (dropping it would make its neighbours graft and prune around it for good).
      if (
        !this.#stopped &&
        this.#components.connectionManager.getConnections(peerId).some((c) => c.status === 'open')
      ) {
        this.#linksReopened++
        this.#openLink(peerId).catch(() => this.#dropPeer(peer))
        return
      }
      this.#dropPeer(peer)
    })
    this.refreshNeighbours()
  }

  #send(peer: string, frame: OutboundFrame): boolean {
    const link = this.#links.get(peer)
    if (link === undefined) return false
    let bytes = this.#encoded.get(frame)
    if (bytes === undefined) {
      bytes = encodeBroadcastFrame(frame)
      this.#encoded.set(frame, bytes)
    }
    if (link.queuedBytes + bytes.byteLength > MAX_QUEUED_BYTES) {
      // The neighbour does not keep up: drop and count; the tree's GRAFTs or anti-entropy heal it.
      this.#framesDropped++
      return false
    }
    link.queue.push(bytes)
    link.queuedBytes += bytes.byteLength
    if (!link.writing) void this.#pump(link)
    return true
  }

  async #pump(link: Link): Promise<void> {
    link.writing = true
    try {
      while (link.queue.length > 0) {
        const bytes = link.queue.shift()!
        link.queuedBytes -= bytes.byteLength
        await link.lp.write(bytes)
      }
    } catch (err) {
      this.#components.logger?.debug({ err: (err as Error).message }, 'broadcast link failed')
      link.queue.length = 0
      link.queuedBytes = 0
    } finally {
      link.writing = false
    }
  }

  async #read(stream: Stream, remote: PeerId): Promise<void> {
    const peer = remote.toString()
    const lp = lpStream(stream, { maxDataLength: DEFAULT_BROADCAST_LIMITS.maxFrameBytes })
    try {
      for (;;) {
        const bytes = (await lp.read()).subarray()
        let frame: BroadcastFrame
        try {
          frame = decodeBroadcastFrame(bytes)
        } catch (err) {
          if (!(err instanceof WireDecodeError)) throw err
          this.#badFrames++
          if (err.code !== 'unsupported-version') this.#components.penalize(peer, err.code)
          continue
        }
        const tree = this.#trees.get(frame.realm)
        if (tree === undefined) continue
        dispatchFrame(tree, peer, frame)
      }
    } catch {
      // The neighbour closed the stream or the connection went away.
    }
  }

  /**
   * A relay that forwards a forged payload had to check it first: the neighbour is penalized, as
   * for one it could not decode (the signature is inside the batch).
   */
  #authenticate(payload: GossipPayload, from: string): boolean {
    let origin: string
    try {
      origin = UTF8.decode(payload.origin)
    } catch {
      origin = ''
    }
    const result = this.#components.authenticate(payload.realm, origin, payload.data)
    if (result.batch !== undefined) {
      this.#authenticated.set(payload, result.batch)
      return true
    }
    if (result.verdict === 'reject') {
      this.#badSignatures++
      this.#components.penalize(from, 'bad-signature')
    }
    return false
  }

  /**
   * Relays forward an authenticated payload before they validate it (Plumtree.onGossip), so one that
   * is provably bad is its signer's doing, not the neighbour's: the origin is penalized.
   */
  #deliver(payload: GossipPayload, from: string): DeliveryVerdict | Promise<DeliveryVerdict> {
    const batch = this.#authenticated.get(payload)
    this.#authenticated.delete(payload)
    if (batch === undefined) {
      this.#components.logger?.debug({ peer: from }, 'delivery of a payload that was not authenticated')
      return 'ignore'
    }
    const verdict = this.#components.validate(batch)
    if (typeof verdict === 'string') return this.#judged(batch, verdict)
    return verdict.then((later) => this.#judged(batch, later))
  }

  #judged(batch: AuthenticatedBatch, verdict: DeliveryVerdict): DeliveryVerdict {
    if (verdict === 'reject') this.#components.penalize(batch.origin, 'invalid-payload')
    return verdict
  }
}
