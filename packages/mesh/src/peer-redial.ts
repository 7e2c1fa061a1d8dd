import type { IdentifyResult, Libp2pEvents, PeerId, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { CODE_P2P, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@tlsmesh/store'
import { type MeshClock, repeat } from './clock.ts'
import { type RedialBackoff, redialDelay } from './redial-backoff.ts'

/**
 * A lost peer is retried within 1 s, then within 2 s, 4 s, and 5 s from then on (full jitter under
 * each ceiling, so that the nodes that lost the same peer at the same moment do not all come back
 * at once): a partition healed after a minute is noticed within 5 s (the fleet must converge within
 * 10 s of the heal), at the cost of one TCP connect every 2.5 s on average per lost peer
 * (refused or unanswered) while it stays away. The tick is the resolution of the schedule.
 */
const TICK_MS = 1000
export const LOST_PEER_BACKOFF: RedialBackoff = { baseMs: 1000, maxMs: 5000, floorMs: 250 }
/** Gone this long: forgotten (decommissioned, or renamed); seeds and peer exchange still find it. */
const FORGET_AFTER_MS = 30 * 60_000
const MAX_LOST_PEERS = 256
/** Dials in flight at once: after a wide partition, any one success is enough to start the heal. */
const MAX_PARALLEL_DIALS = 4
const DIAL_TIMEOUT_MS = 5000
const MAX_ADDRS_PER_PEER = 8

interface LostPeer {
  addrs: Multiaddr[]
  lostAt: number
  failures: number
  nextAttemptAt: number
}

export interface PeerRedialInit {
  /** Only peers that speak this protocol (members of the mesh) are redialed. */
  protocol: string
}

export interface PeerRedialComponents {
  connectionManager: Pick<ConnectionManager, 'openConnection'>
  events: TypedEventTarget<Libp2pEvents>
  clock: MeshClock
  logger?: Logger
  /** The jitter's source (Math.random by default). */
  random?: () => number
}

/**
 * Redials mesh peers this node lost. libp2p redials nobody on its own (bootstrap dials its seeds once,
 * at start), and peer exchange only asks connected peers: after a partition long enough for the
 * connection monitor to close the links across it (see PING_INTERVAL_MS), each half would stay
 * connected only within itself, for good. The addresses come from identify and are kept here,
 * because the peer store drops an address an hour after it first saw it, even while the peer stays
 * connected. Seeds are the seed dialer's (seed-dialer.ts).
 */
export class PeerRedial {
  readonly #init: PeerRedialInit
  readonly #components: PeerRedialComponents
  /** Listen addresses of connected mesh peers, from identify. */
  readonly #addrs = new Map<string, Multiaddr[]>()
  /** Insertion order is loss order: the oldest is dropped first when full. */
  readonly #lost = new Map<string, LostPeer>()
  #inFlight = 0
  #stopTicking: (() => void) | undefined
  readonly #random: () => number

  constructor(init: PeerRedialInit, components: PeerRedialComponents) {
    this.#init = init
    this.#components = components
    this.#random = components.random ?? Math.random
  }

  start(): void {
    const { events } = this.#components
    events.addEventListener('peer:identify', this.#onIdentify)
    events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#stopTicking = repeat(this.#components.clock, TICK_MS, () => this.#tick())
  }

  stop(): void {
    const { events } = this.#components
    this.#stopTicking?.()
    this.#stopTicking = undefined
    events.removeEventListener('peer:identify', this.#onIdentify)
    events.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#lost.clear()
    this.#addrs.clear()
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, listenAddrs } = event.detail
    const key = peerId.toString()
    this.#lost.delete(key)
    if (!protocols.includes(this.#init.protocol)) return
    const addrs = listenAddrs.slice(0, MAX_ADDRS_PER_PEER).map((addr) => withPeerId(addr, key))
    if (addrs.length > 0) this.#addrs.set(key, addrs)
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const key = event.detail.toString()
    const addrs = this.#addrs.get(key)
    this.#addrs.delete(key)
    if (addrs === undefined || this.#stopTicking === undefined) return
    const now = this.#components.clock.now()
    this.#lost.delete(key)
    this.#lost.set(key, { addrs, lostAt: now, failures: 0, nextAttemptAt: now + this.delay(0) })
    if (this.#lost.size > MAX_LOST_PEERS) this.#lost.delete(this.#lost.keys().next().value!)
  }

  /** Exposed for tests: the wait before retry `attempt` (0: the first after the loss). */
  delay(attempt: number): number {
    return redialDelay(attempt, LOST_PEER_BACKOFF, this.#random)
  }

  #tick(): void {
    const { connectionManager, logger, clock } = this.#components
    const now = clock.now()
    for (const [key, peer] of this.#lost) {
      if (now - peer.lostAt > FORGET_AFTER_MS) {
        this.#lost.delete(key)
        continue
      }
      if (this.#inFlight >= MAX_PARALLEL_DIALS) break
      if (peer.nextAttemptAt > now) continue
      // Pushed back before the dial, so that a slow dial is not started again on the next tick.
      peer.nextAttemptAt = now + DIAL_TIMEOUT_MS
      this.#inFlight++
      connectionManager
        .openConnection(peer.addrs, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        .then(
          () => {
            this.#lost.delete(key)
            logger?.info({ peer: key, lostForMs: clock.now() - peer.lostAt }, 'reconnected to a lost peer')
          },
          (err: Error) => {
            peer.failures++
            peer.nextAttemptAt = clock.now() + this.delay(peer.failures)
            logger?.debug({ peer: key, err: err.message }, 'redial of a lost peer failed')
          },
        )
        .finally(() => {
          this.#inFlight--
        })
    }
  }
}

function withPeerId(addr: Multiaddr, peerId: string): Multiaddr {
  return addr.getComponents().some((c) => c.code === CODE_P2P) ? addr : addr.encapsulate(`/p2p/${peerId}`)
}
