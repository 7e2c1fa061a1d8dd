import type { OutboundFrame } from '@tlsmesh/mesh'
import { BroadcastKind } from '@tlsmesh/wire'
import type { CatchUp } from './catch-up.ts'
import type { Network } from './network.ts'
import type { Prng } from './prng.ts'
import type { Scheduler } from './scheduler.ts'
import { nodeIndex, SimNode, type SimNodeComponents } from './sim-node.ts'
import type { Traffic } from './traffic.ts'

export interface FleetInit {
  /** A node dials peers until it has this many links, inbound ones included (DEFAULT_TARGET_PEERS). */
  targetPeers: number
  /** Inbound dials to a node with this many links fail (DEFAULT_MAX_CONNECTIONS). */
  maxConnections: number
  /** Records the run publishes: each replica is sized for them. */
  records: number
}

export interface FleetComponents {
  scheduler: Scheduler
  network: Network
  prng: Prng
  traffic: Traffic
  delivered: SimNodeComponents['delivered']
  /** Catch-up, when the run has it: told of every link that opens and of every node that starts. */
  catchUp?: CatchUp
}

/** Round trips from a dial to an open broadcast link: TCP, pnet, Noise, yamux and identify. */
const HANDSHAKE_ROUND_TRIPS = 4
/** A node below its target dials again this often (peer exchange's first rounds). */
const TOP_UP_RETRY_MS = 500
/** Random picks per dial before a round gives up (a full or cut-off fleet). */
const PICKS_PER_DIAL = 20

/**
 * The processes and their links. Links are what libp2p would hold: each node dials random peers
 * until it has `targetPeers`, and dials again when it loses one; each link is a Plumtree neighbour
 * on both sides. Frames go through the Network; a frame arrives only if its link is still open and
 * its receiver is the same process that was sent to (a restarted node is a new one).
 */
export class Fleet {
  readonly nodes: SimNode[] = []
  readonly #init: FleetInit
  readonly #c: FleetComponents
  readonly #dialing = new Map<number, Set<number>>()
  readonly #topUpsDue = new Set<number>()
  /** Peer exchange on every new link (startSeeded); a fleet started linked has no need of it. */
  #exchanging = false

  constructor(init: FleetInit, components: FleetComponents) {
    this.#init = init
    this.#c = components
  }

  live(): SimNode[] {
    return this.nodes.filter((node) => node.up)
  }

  /** Starts `count` nodes linked at once, each having dialed random peers up to its target. */
  startLinked(count: number): void {
    for (let i = 0; i < count; i++) this.#spawn(i)
    for (const node of this.nodes) {
      let picks = 0
      while (node.links.size < this.#init.targetPeers && picks++ < count * 4) {
        const peer = this.nodes[this.#c.prng.int(count)]!
        if (this.#canLink(node, peer)) this.#link(node, peer)
      }
    }
  }

  /**
   * Starts `count` nodes as bench/scale.ts does: node 0 first, then the others at random moments
   * over `spreadMs`, each dialing node 0 as its seed. A node that links below its target asks the
   * peer for the peers it has and dials them up to its target (peer exchange), so a small fleet
   * becomes a full mesh, as the real one does.
   */
  startSeeded(count: number, spreadMs: number): void {
    for (let i = 0; i < count; i++) this.#spawn(i)
    const seed = this.nodes[0]!
    for (const node of this.nodes.slice(1)) {
      const at = this.#c.scheduler.now() + this.#c.prng.float() * spreadMs
      this.#c.scheduler.at(at, () => this.#dial(node, seed))
    }
    this.#exchanging = true
  }

  /** A new process at `index` (a restart, or a newcomer past the end) that joins by dialing. */
  start(index: number): SimNode {
    const node = this.#spawn(index)
    this.#topUp(node)
    return node
  }

  /** The process dies: its neighbours see their connection reset one latency later. */
  crash(node: SimNode): void {
    node.up = false
    node.tree.stop()
    for (const peer of [...node.links]) {
      node.links.delete(peer)
      const neighbour = this.nodes[peer]!
      this.#c.scheduler.at(this.#c.scheduler.now() + this.#c.network.latency(node.index, peer), () => {
        this.#closeSide(neighbour, node.index)
      })
    }
  }

  /**
   * Silent partition of `nodes` from the rest: each side of a link across it finds out when its next
   * ping fails, within `detectMs`, and closes it. Returns the links it cut, for `heal`.
   */
  cut(nodes: ReadonlySet<number>, detectMs: number): Array<[SimNode, SimNode]> {
    this.#c.network.cut(nodes)
    const severed: Array<[SimNode, SimNode]> = []
    for (const node of this.live()) {
      for (const peer of node.links) {
        if (nodes.has(node.index) === nodes.has(peer)) continue
        if (node.index < peer) severed.push([node, this.nodes[peer]!])
        const at = this.#c.scheduler.now() + this.#c.prng.float() * detectMs
        this.#c.scheduler.at(at, () => this.#closeSide(node, peer))
      }
    }
    return severed
  }

  /** Ends the cut: the lost peers are redialed within `redialMs` (peer-redial.ts's ceiling). */
  heal(severed: Array<[SimNode, SimNode]>, redialMs: number): void {
    this.#c.network.heal()
    for (const [a, b] of severed) {
      this.#c.scheduler.at(this.#c.scheduler.now() + this.#c.prng.float() * redialMs, () => this.#dial(a, b))
    }
  }

  /** Live nodes that no path of links open on both ends and not cut leads to from `origin`. */
  unreachableFrom(origin: SimNode): Set<number> {
    const reached = new Set([origin.index])
    const queue = [origin]
    for (let node = queue.pop(); node !== undefined; node = queue.pop()) {
      for (const peer of node.links) {
        const next = this.nodes[peer]!
        if (reached.has(peer) || !next.up || !next.links.has(node.index)) continue
        if (!this.#c.network.reachable(node.index, peer)) continue
        reached.add(peer)
        queue.push(next)
      }
    }
    return new Set(
      this.live()
        .filter((node) => !reached.has(node.index))
        .map((node) => node.index),
    )
  }

  #spawn(index: number): SimNode {
    const node = new SimNode(index, this.#init.records, {
      scheduler: this.#c.scheduler,
      random: () => this.#c.prng.float(),
      send: (from, to, frame) => this.#send(from, to, frame),
      delivered: this.#c.delivered,
    })
    this.nodes[index] = node
    this.#c.catchUp?.schedulePeriodic(node)
    return node
  }

  #send(from: SimNode, to: string, frame: OutboundFrame): boolean {
    const index = nodeIndex(to)
    if (!from.links.has(index)) return false
    const bytes = this.#c.traffic.count(from.name, frame)
    const target = this.nodes[index]!
    this.#c.network.transmit(from.index, index, bytes, () => {
      if (target.up && target.links.has(from.index)) receive(target, from.name, frame)
    })
    return true
  }

  #canLink(a: SimNode, b: SimNode): boolean {
    return a !== b && a.up && b.up && !a.links.has(b.index) && b.links.size < this.#init.maxConnections
  }

  #link(a: SimNode, b: SimNode): void {
    const now = this.#c.scheduler.now()
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const first = x.links.size === 0
      x.links.add(y.index)
      x.joinedAt ??= now
      x.tree.addPeer(y.name)
      this.#c.catchUp?.linked(x, y, first)
    }
  }

  #closeSide(node: SimNode, peer: number): void {
    if (!node.links.delete(peer)) return
    node.tree.removePeer(this.nodes[peer]!.name)
    this.#topUp(node)
  }

  /** The peers `node` is dialing. */
  #pendingOf(node: SimNode): Set<number> {
    let pending = this.#dialing.get(node.index)
    if (pending === undefined) {
      pending = new Set()
      this.#dialing.set(node.index, pending)
    }
    return pending
  }

  /** Dials `b` from `a`: the link opens after the handshake if both are the same processes still. */
  #dial(a: SimNode, b: SimNode): void {
    const pending = this.#pendingOf(a)
    pending.add(b.index)
    const rtt = 2 * this.#c.network.latency(a.index, b.index)
    this.#c.scheduler.at(this.#c.scheduler.now() + HANDSHAKE_ROUND_TRIPS * rtt, () => {
      pending.delete(b.index)
      const same = this.nodes[a.index] === a && this.nodes[b.index] === b
      if (!same || !this.#canLink(a, b) || !this.#c.network.reachable(a.index, b.index)) return
      this.#link(a, b)
      if (this.#exchanging) this.#exchange(a, b)
    })
  }

  /**
   * Peer exchange (peer-exchange.ts) from `node`, below its target, to the peer it just linked to:
   * one round trip later it has the peer's list of linked peers, in random order, and dials them
   * until its links and dials in flight reach the target.
   */
  #exchange(node: SimNode, peer: SimNode): void {
    const { scheduler, network, prng } = this.#c
    if (node.links.size >= this.#init.targetPeers) return
    scheduler.at(scheduler.now() + 2 * network.latency(node.index, peer.index), () => {
      if (!node.up || !peer.up) return
      const listed = [...peer.links].filter((index) => index !== node.index)
      const pending = this.#pendingOf(node)
      for (let left = listed.length; left > 0; left--) {
        if (node.links.size + pending.size >= this.#init.targetPeers) break
        const pick = prng.int(left)
        const index = listed[pick]!
        listed[pick] = listed[left - 1]!
        const next = this.nodes[index]!
        if (this.#canLink(node, next) && !pending.has(index)) this.#dial(node, next)
      }
    })
  }

  /** Dials random peers up to the target; tries again later while the node is below it. */
  #topUp(node: SimNode): void {
    if (!node.up || this.nodes[node.index] !== node) return
    const pending = this.#pendingOf(node)
    let missing = this.#init.targetPeers - node.links.size - pending.size
    for (let picks = 0; missing > 0 && picks < PICKS_PER_DIAL * missing; picks++) {
      const peer = this.nodes[this.#c.prng.int(this.nodes.length)]!
      if (!this.#canLink(node, peer) || pending.has(peer.index)) continue
      this.#dial(node, peer)
      missing--
    }
    if (node.links.size >= this.#init.targetPeers || this.#topUpsDue.has(node.index)) return
    this.#topUpsDue.add(node.index)
    this.#c.scheduler.at(this.#c.scheduler.now() + TOP_UP_RETRY_MS, () => {
      this.#topUpsDue.delete(node.index)
      this.#topUp(node)
    })
  }
}

/** Hands a frame to the receiver's Plumtree, as BroadcastService does after decoding it. */
function receive(node: SimNode, from: string, frame: OutboundFrame): void {
  switch (frame.kind) {
    case BroadcastKind.GOSSIP:
      node.tree.onGossip(from, frame)
      break
    case BroadcastKind.IHAVE:
      node.tree.onIHave(from, frame.ids, frame.hops)
      break
    case BroadcastKind.GRAFT:
      node.tree.onGraft(from, frame.ids)
      break
    case BroadcastKind.PRUNE:
      node.tree.onPrune(from, frame.full)
      break
  }
}
