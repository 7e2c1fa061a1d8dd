import { DEFAULT_SYNC_INTERVAL_MS } from '@tlsmesh/mesh'
import {
  answerQuery,
  answerRecords,
  ListedRanges,
  RealmDigest,
  type ReconciliationSide,
  reconcile,
  SPREAD_MIN_AGE_MS,
  syncKeyOf,
} from '@tlsmesh/mesh/sync'
import type { SessionRecord } from '@tlsmesh/store'
import { SyncKind, type SyncMessage } from '@tlsmesh/wire'
import type { Network } from './network.ts'
import type { Prng } from './prng.ts'
import { REALM } from './records.ts'
import type { Scheduler } from './scheduler.ts'
import type { SimNode } from './sim-node.ts'

/** A reconciliation with a peer just met waits this long, plus as much again at random (sync-service.ts). */
const MEETING_DELAY_MS = 250
/** A node that is reconciling declines; the other tries again this much later, this many times. */
const RETRY_MS = 500
const MAX_RETRIES = 5
/** Reconciliations a node queues while it runs one (sync-service.ts's MAX_PENDING_SYNCS). */
const MAX_PENDING = 64

export interface CatchUpComponents {
  scheduler: Scheduler
  network: Network
  prng: Prng
  /** The node's linked peers. */
  peersOf: (node: SimNode) => SimNode[]
}

/**
 * The mesh's catch-up on simulated nodes: the daemon's triggers (a peer met or met again, then one
 * random peer every 30 s; one reconciliation at a time per node) around the real set
 * reconciliation (`reconcile`, `answerQuery`, `answerRecords` over `RealmDigest`s of the two
 * replicas). A session runs whole at the moment it starts, on the replicas as they are then; what it
 * moved lands on both sides its round trips later. `reconcile` is asynchronous, so the scheduler
 * pauses at each session and the run awaits it (`drain`) before time goes on.
 */
export class CatchUp {
  /** Sessions run and the records they moved, for the outcome. */
  sessions = 0
  recordsMoved = 0
  readonly #c: CatchUpComponents
  readonly #due: Array<() => Promise<void>> = []
  readonly #busy = new Set<SimNode>()
  /** When each node last asked a peer about young records it was taught. */
  readonly #lastYoungCheck = new Map<SimNode, number>()
  /** What each node will start once its own reconciliation ends, in order. */
  readonly #pending = new Map<SimNode, SimNode[]>()

  constructor(components: CatchUpComponents) {
    this.#c = components
  }

  /** A link opened: reconcile with that peer at once if it is the node's first, else a moment later. */
  linked(node: SimNode, peer: SimNode, first: boolean): void {
    if (first) this.#request(node, peer, 0)
    else this.#later(node, peer, MEETING_DELAY_MS * (1 + this.#c.prng.float()), 0)
  }

  /** Every `DEFAULT_SYNC_INTERVAL_MS`, a random linked peer, from a random phase on. */
  schedulePeriodic(node: SimNode): void {
    const tick = (): void => {
      if (!node.up) return
      const linked = this.#c.peersOf(node)
      if (linked.length > 0) this.#request(node, linked[this.#c.prng.int(linked.length)]!, MAX_RETRIES)
      this.#c.scheduler.at(this.#c.scheduler.now() + DEFAULT_SYNC_INTERVAL_MS, tick)
    }
    this.#c.scheduler.at(this.#c.scheduler.now() + this.#c.prng.float() * DEFAULT_SYNC_INTERVAL_MS, tick)
  }

  /** Runs the sessions the last events started, in the order they started. */
  async drain(): Promise<void> {
    for (let task = this.#due.shift(); task !== undefined; task = this.#due.shift()) await task()
  }

  #later(node: SimNode, peer: SimNode, ms: number, retries: number): void {
    this.#c.scheduler.at(this.#c.scheduler.now() + ms, () => this.#request(node, peer, retries))
  }

  #request(node: SimNode, peer: SimNode, retries: number): void {
    if (!node.up || !peer.up || !node.links.has(peer.index)) return
    if (this.#busy.has(node)) {
      const queue = this.#pending.get(node) ?? []
      if (queue.length < MAX_PENDING && !queue.includes(peer)) queue.push(peer)
      this.#pending.set(node, queue)
      return
    }
    if (this.#busy.has(peer)) {
      if (retries < MAX_RETRIES) this.#later(node, peer, RETRY_MS, retries + 1)
      return
    }
    this.#busy.add(node)
    this.#busy.add(peer)
    this.#due.push(() => this.#session(node, peer))
    this.#c.scheduler.pause()
  }

  async #session(node: SimNode, peer: SimNode): Promise<void> {
    const { scheduler, network } = this.#c
    const now = Math.floor(scheduler.now())
    const toNode: SessionRecord[] = []
    const toPeer: SessionRecord[] = []
    const responder = sideOf(peer, now, toPeer, new ListedRanges())
    const result = await reconcile(sideOf(node, now, toNode), async (message) =>
      message.kind === SyncKind.QUERY ? answerQuery(responder, message) : answerRecords(responder, message),
    )
    this.sessions++
    this.recordsMoved += toNode.length + toPeer.length
    const rtt = 2 * network.latency(node.index, peer.index)
    const transfer =
      network.serialization(node.index, peer.index, wireBytes(toPeer)) +
      network.serialization(peer.index, node.index, wireBytes(toNode))
    scheduler.at(scheduler.now() + (result.rounds + 1) * rtt + transfer, () => {
      this.#busy.delete(node)
      this.#busy.delete(peer)
      this.#land(node, peer, toNode)
      this.#land(peer, node, toPeer)
      this.#next(node)
      this.#next(peer)
    })
  }

  /** Starts the reconciliation `node` queued while it was busy, if any. */
  #next(node: SimNode): void {
    const next = this.#pending.get(node)?.shift()
    if (next !== undefined) this.#request(node, next, 0)
  }

  /**
   * Stores what a session brought `node`. A node that learnt something (records SPREAD_MIN_AGE_MS
   * old or more) reconciles with every other linked peer, a moment later each; one taught younger
   * records only asks one more random peer once they are old enough, at most once a period
   * (sync-service.ts).
   */
  #land(node: SimNode, from: SimNode, records: SessionRecord[]): void {
    if (!node.up) return
    const at = Math.floor(this.#c.scheduler.now())
    let learnt = 0
    let young = 0
    for (const record of records) {
      const outcome = node.store.merge(record, at, 'sync')
      if (outcome !== 'added' && outcome !== 'replaced') continue
      if (at - record.created >= SPREAD_MIN_AGE_MS) learnt++
      else young++
    }
    if (learnt > 0) {
      for (const peer of this.#c.peersOf(node)) {
        if (peer !== from) this.#later(node, peer, MEETING_DELAY_MS * (1 + this.#c.prng.float()), 0)
      }
    } else if (young > 0 && at - (this.#lastYoungCheck.get(node) ?? -Infinity) >= DEFAULT_SYNC_INTERVAL_MS) {
      this.#lastYoungCheck.set(node, at)
      this.#c.scheduler.at(at + SPREAD_MIN_AGE_MS, () => {
        const others = this.#c.peersOf(node).filter((peer) => peer !== from)
        if (others.length > 0) this.#request(node, others[this.#c.prng.int(others.length)]!, 0)
      })
    }
  }
}

/** One side of a session: its replica's digest now, and where the records it receives wait. */
function sideOf(
  node: SimNode,
  now: number,
  received: SessionRecord[],
  listed?: ListedRanges,
): ReconciliationSide {
  return {
    realm: REALM,
    digest: new RealmDigest(node.store.entries(REALM, now)),
    // Every peer is honest here: nothing to refuse, but the initiator learns from `requested` which keys came.
    receive: (message: SyncMessage, requested: (key: bigint) => boolean) => {
      for (const record of message.records) {
        requested(syncKeyOf(record.id))
        received.push({ ...record, realm: REALM, proof: message.proofs[record.proof]! })
      }
    },
    ...(listed !== undefined ? { listed } : {}),
  }
}

/** What records take in RECORDS messages: the session, its id, and about 100 bytes of fields and proof. */
function wireBytes(records: SessionRecord[]): number {
  let bytes = 0
  for (const record of records) bytes += (record.value?.byteLength ?? 0) + record.id.byteLength + 100
  return bytes
}
