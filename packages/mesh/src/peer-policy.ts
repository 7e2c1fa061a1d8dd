import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '@tlsmesh/store'

/** Provably bad messages from one peer within STRIKE_WINDOW_MS that get it refused. */
export const STRIKES_TO_REFUSE = 3
export const STRIKE_WINDOW_MS = 60_000
/** How long a peer that collected its strikes is refused. */
export const REFUSAL_MS = 60_000

export interface PeerPolicyInit {
  /** This node's peer id: its own records are always allowed. */
  self: string
  /** Peer ids that may connect and sign records. Absent: any holder of the mesh key. */
  allowPeers?: Iterable<string>
  /** Realms whose records only these peer ids may sign, on top of `allowPeers`. */
  realmSigners?: Record<string, Iterable<string>>
}

export interface PeerPolicyComponents {
  now: () => number
  logger?: Logger
}

/**
 * Who may connect and whose records may be stored: the allowlist, each realm's signers, and the
 * strikes that get a misbehaving member refused for a while. It decides; it does not hang up.
 * `PeerPolicyService` (below) closes the connections of the peers it starts to refuse.
 */
export class PeerPolicy {
  readonly #self: string
  readonly #realmSigners: Map<string, Set<string>>
  readonly #components: PeerPolicyComponents
  readonly #strikes = new Map<string, number[]>()
  readonly #refusedUntil = new Map<string, number>()
  #allowPeers: Set<string> | undefined
  #onRefuse: (peer: string) => void = () => {}
  #onAllowlistChange: () => void = () => {}

  constructor(init: PeerPolicyInit, components: PeerPolicyComponents) {
    this.#self = init.self
    this.#allowPeers = init.allowPeers !== undefined ? new Set(init.allowPeers) : undefined
    this.#realmSigners = new Map(
      Object.entries(init.realmSigners ?? {}).map(([realm, ids]) => [realm, new Set(ids)]),
    )
    this.#components = components
  }

  /** Whether `peer` may not hold a connection now: off the allowlist, or refused for its strikes. */
  refuses(peer: string): boolean {
    if (this.#allowPeers !== undefined && !this.#allowPeers.has(peer)) return true
    const until = this.#refusedUntil.get(peer)
    if (until === undefined) return false
    if (until > this.#components.now()) return true
    this.#refusedUntil.delete(peer)
    return false
  }

  /** Whether records signed by `origin` may be stored in `realm`: the allowlist applies to signers too. */
  originAllowed(origin: string, realm: string): boolean {
    return (
      (this.#realmSigners.get(realm)?.has(origin) ?? true) &&
      (this.#allowPeers === undefined || origin === this.#self || this.#allowPeers.has(origin))
    )
  }

  /** gossipsub's application score: peers off the allowlist sink below the graylist threshold. */
  gossipScore(peer: string): number {
    return this.#allowPeers === undefined || this.#allowPeers.has(peer) ? 0 : -1000
  }

  /** libp2p's gate: refused peers are turned away once their identity is known, in both directions. */
  gater(): ConnectionGater {
    const refused = (peer: PeerId): boolean => this.refuses(peer.toString())
    return {
      denyInboundEncryptedConnection: refused,
      denyOutboundEncryptedConnection: refused,
      denyDialPeer: refused,
    }
  }

  /** A strike against `peer` for a provably bad message; the last of STRIKES_TO_REFUSE refuses it. */
  penalize(peer: string, reason: string): void {
    const now = this.#components.now()
    const recent = (this.#strikes.get(peer) ?? []).filter((at) => now - at < STRIKE_WINDOW_MS)
    recent.push(now)
    this.#strikes.set(peer, recent)
    this.#components.logger?.debug({ peer, reason }, 'peer sent an invalid message')
    if (recent.length < STRIKES_TO_REFUSE) return
    this.#strikes.delete(peer)
    this.#refusedUntil.set(peer, now + REFUSAL_MS)
    this.#components.logger?.warn({ peer, reason }, 'refusing a peer for a minute: it sent invalid messages')
    this.#onRefuse(peer)
  }

  /** Replaces the allowlist (undefined: any holder of the mesh key); the refused are hung up on. */
  setAllowPeers(peers: Iterable<string> | undefined): void {
    this.#allowPeers = peers !== undefined ? new Set(peers) : undefined
    this.#onAllowlistChange()
  }

  /** Where the decisions take effect: `PeerPolicyService` hangs up on whom they refuse. */
  enforceWith(onRefuse: (peer: string) => void, onAllowlistChange: () => void): void {
    this.#onRefuse = onRefuse
    this.#onAllowlistChange = onAllowlistChange
  }
}

export interface PeerPolicyServiceComponents {
  connectionManager: Pick<ConnectionManager, 'getConnections' | 'closeConnections'>
}

/** The libp2p service that hangs up on the peers `policy` starts to refuse. */
export class PeerPolicyService {
  readonly #policy: PeerPolicy
  readonly #components: PeerPolicyServiceComponents

  constructor(policy: PeerPolicy, components: PeerPolicyServiceComponents) {
    this.#policy = policy
    this.#components = components
  }

  start(): void {
    this.#policy.enforceWith(
      (peer) => this.#hangUp(peerIdFromString(peer)),
      () => {
        for (const connection of this.#components.connectionManager.getConnections()) {
          if (this.#policy.refuses(connection.remotePeer.toString())) this.#hangUp(connection.remotePeer)
        }
      },
    )
  }

  stop(): void {
    this.#policy.enforceWith(
      () => {},
      () => {},
    )
  }

  #hangUp(peer: PeerId): void {
    this.#components.connectionManager.closeConnections(peer).catch(() => {})
  }
}

/** `PeerPolicyService` as a libp2p service factory. */
export function peerPolicyService(
  policy: PeerPolicy,
): (components: PeerPolicyServiceComponents) => PeerPolicyService {
  return (components) => new PeerPolicyService(policy, components)
}
