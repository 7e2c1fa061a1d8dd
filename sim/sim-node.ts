import {
  DEFAULT_GRAFT_TIMEOUT_MS,
  DEFAULT_LAZY_FANOUT,
  DEFAULT_LAZY_FLUSH_MS,
  DEFAULT_MAX_EAGER_PEERS,
  DEFAULT_REGRAFT_TIMEOUT_MS,
  DEFAULT_SHED_INTERVAL_MS,
  type DeliveryVerdict,
  type GossipPayload,
  type OutboundFrame,
  Plumtree,
  type PlumtreeInit,
} from '@tlsmesh/mesh'
import { ReplicaStore } from '@tlsmesh/store'
import { REALM, recordId, recordNoOf, sessionOf } from './records.ts'
import type { Scheduler } from './scheduler.ts'

/** The daemon's settings: the defaults, and the cache and duplicate filter of BroadcastService. */
export const PLUMTREE_INIT: PlumtreeInit = {
  realm: REALM,
  graftTimeoutMs: DEFAULT_GRAFT_TIMEOUT_MS,
  regraftTimeoutMs: DEFAULT_REGRAFT_TIMEOUT_MS,
  lazyFlushMs: DEFAULT_LAZY_FLUSH_MS,
  lazyFanout: DEFAULT_LAZY_FANOUT,
  maxEagerPeers: DEFAULT_MAX_EAGER_PEERS,
  shedIntervalMs: DEFAULT_SHED_INTERVAL_MS,
  cacheEntries: 4096,
  cacheTtlMs: 30_000,
  seenEntries: 200_000,
  seenTtlMs: 120_000,
}

/** A peer id's length (base58 Ed25519), so that frames have their real size. */
export function nodeName(index: number): string {
  return `12D3KooW${String(index).padStart(44, '0')}`
}

export function nodeIndex(name: string): number {
  return Number(name.slice(8))
}

export interface SimNodeComponents {
  scheduler: Scheduler
  random: () => number
  send(from: SimNode, to: string, frame: OutboundFrame): boolean
  /** Told of every payload this node delivers, with the verdict of its replica. */
  delivered(node: SimNode, payload: GossipPayload, verdict: DeliveryVerdict): void
}

/**
 * One process of the fleet: the real Plumtree on a virtual clock, and a real replica that each
 * delivered payload's session is merged into. A restart is a new SimNode: nothing survives it.
 */
export class SimNode {
  readonly index: number
  readonly name: string
  readonly tree: Plumtree
  readonly store: ReplicaStore
  /** Neighbours with an open link, by index. */
  readonly links = new Set<number>()
  readonly startedAt: number
  /** When its first link opened: from then on it is on the tree. */
  joinedAt: number | undefined
  up = true
  readonly #components: SimNodeComponents

  constructor(index: number, maxRecords: number, components: SimNodeComponents) {
    this.index = index
    this.name = nodeName(index)
    this.#components = components
    this.startedAt = components.scheduler.now()
    // Room for every record of the run; lru-cache allocates its arrays for `max` up front.
    this.store = new ReplicaStore({ realms: [REALM], maxEntriesPerRealm: Math.max(16, maxRecords) })
    this.store.watch({
      stored: (record) => this.arrivals.set(recordNoOf(record.id), components.scheduler.now()),
      removed: () => {},
    })
    // The payload cache never fills in a run of `maxRecords`, so it answers every GRAFT the daemon's
    // 4,096 would, and lru-cache does not allocate 4,096 slots for each of 10,000 nodes.
    const cacheEntries = Math.min(PLUMTREE_INIT.cacheEntries, Math.max(16, maxRecords))
    this.tree = new Plumtree(
      { ...PLUMTREE_INIT, cacheEntries },
      {
        send: (peer, frame) => components.send(this, peer, frame),
        // Signatures are not simulated: every payload is its origin's.
        authenticate: () => true,
        deliver: (payload) => this.#deliver(payload),
        clock: components.scheduler,
        random: components.random,
      },
    )
  }

  /** When each record reached this replica, by record number: by the tree or by catch-up. */
  readonly arrivals = new Map<number, number>()

  holds(no: number): boolean {
    return this.store.peek(REALM, recordId(no), Math.floor(this.#components.scheduler.now())) !== undefined
  }

  #deliver(payload: GossipPayload): DeliveryVerdict {
    const now = Math.floor(this.#components.scheduler.now())
    const origin = new TextDecoder().decode(payload.origin)
    const outcome = this.store.merge(sessionOf(payload, origin), now)
    const verdict =
      outcome === 'added' || outcome === 'replaced' ? 'accept' : outcome === 'duplicate' ? 'ignore' : 'reject'
    this.#components.delivered(this, payload, verdict)
    return verdict
  }
}
