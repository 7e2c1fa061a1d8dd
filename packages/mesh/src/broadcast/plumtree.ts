import { createHash } from 'node:crypto'
import { BroadcastKind } from '@tlsmesh/wire'
import { LRUCache } from 'lru-cache'
import { type MeshClock, realClock, type TimerHandle } from '../clock.ts'
import { randomSample } from '../random-sample.ts'
import { RecentIds } from './recent-ids.ts'

/** A GOSSIP frame's content: who made it and what it carries (a batch with its origin's signature). */
export interface GossipPayload {
  realm: string
  origin: Uint8Array
  data: Uint8Array
  hops: number
}

export type OutboundFrame =
  | ({ kind: BroadcastKind.GOSSIP } & GossipPayload)
  | { kind: BroadcastKind.IHAVE; realm: string; ids: Uint8Array[]; hops: number }
  | { kind: BroadcastKind.GRAFT; realm: string; ids: Uint8Array[] }
  | { kind: BroadcastKind.PRUNE; realm: string; full: boolean }

export type DeliveryVerdict = 'accept' | 'ignore' | 'reject'

export interface PlumtreeInit {
  realm: string
  /**
   * How long a node waits at least for a payload it heard of by IHAVE before it GRAFTs the announcer.
   * It waits longer (up to 4x) while payloads keep arriving late but unasked (see
   * currentGraftTimeout).
   */
  graftTimeoutMs: number
  /** Then how long it waits on that announcer before it GRAFTs the next one. */
  regraftTimeoutMs: number
  /** IHAVE ids are sent in batches this often. */
  lazyFlushMs: number
  /**
   * Each flush announces to at most this many lazy neighbours, picked at random: an IHAVE frame costs
   * about what a payload frame does (a write, a Noise and a pnet pass), and announcing to every lazy
   * neighbour would make a node send ~N frames per batch where the tree sends it one.
   */
  lazyFanout: number
  /**
   * At most this many neighbours are eager: a node's degree in the tree, so also the copies an origin
   * sends of its own batches, whatever the fleet's size. Without a cap, the tree around an origin
   * that every node is connected to is a star (each node's first copy comes from it directly, so
   * duplicate pruning keeps exactly those links) and it sends N-1 copies per batch, as push does.
   * Links beyond the cap are made lazy one at a time and the neighbour told so (a "full" PRUNE; see
   * #shedOverCap), and a GRAFT beyond it is answered but declined the same way, so the other nodes
   * hang below the origin's children. Only a node's own GRAFTs may take it past the cap: it has to
   * get payloads from somewhere.
   */
  maxEagerPeers: number
  /** Above the cap, one eager link is shed this often (see #shedOverCap). */
  shedIntervalMs: number
  /** Payloads kept to answer GRAFTs. */
  cacheEntries: number
  cacheTtlMs: number
  /** Ids remembered to drop duplicates (see RecentIds for how long). */
  seenEntries: number
  seenTtlMs: number
}

export interface PlumtreeComponents {
  /** Queues a frame to a neighbour; false when it could not (no link, or its queue is full). */
  send(peer: string, frame: OutboundFrame): boolean
  /** Checks the origin's signature of a payload received for the first time: false stops it here. */
  authenticate(payload: GossipPayload, from: string): boolean
  /**
   * Validates an authenticated payload and applies it. The verdict may come later (the replica on
   * another thread): the payload has been relayed already, and only its announcement waits for it.
   */
  deliver(payload: GossipPayload, from: string): DeliveryVerdict | Promise<DeliveryVerdict>
  /** Default `realClock`. */
  clock?: MeshClock
  /** Uniform in [0, 1), for every random choice (whom to shed, announce to, GRAFT). Default Math.random. */
  random?: () => number
}

export interface PlumtreeStats {
  eagerPeers: number
  lazyPeers: number
  /** Batches this node originated, and the payload copies it sent of them (origin fan-out). */
  originated: number
  originPayloadsSent: number
  payloadsSent: number
  payloadsReceived: number
  /** Payload copies not sent down an eager link because the neighbour had announced the batch. */
  payloadsSpared: number
  /**
   * Relays each payload's first copy came through (0: from its origin); over payloadsReceived, the
   * tree's mean depth.
   */
  relaysBeforeArrival: number
  duplicates: number
  idsAnnounced: number
  graftsSent: number
  /** GRAFTed ids this node could not answer: the payload had left its cache. */
  graftMisses: number
  prunesSent: number
  sendFailures: number
  /** Ids heard of by IHAVE that no announcer delivered: left to anti-entropy. */
  missingAbandoned: number
  /** Announced ids not tracked because too many were awaited already (a flood, or a long outage). */
  announcementsDropped: number
  /** GRAFTed ids not answered because one GRAFT asked for more than a repair ever does. */
  graftIdsRefused: number
  /** GRAFTs answered but not made eager links: this node had maxEagerPeers already. */
  graftsDeclined: number
  /** Eager links made lazy because this node had more than maxEagerPeers. */
  linksShed: number
}

/** The stats that add up across realms (the rest describe one realm's tree). */
export type PlumtreeCounters = Omit<PlumtreeStats, 'eagerPeers' | 'lazyPeers'>

export function emptyPlumtreeCounters(): PlumtreeCounters {
  return {
    originated: 0,
    originPayloadsSent: 0,
    payloadsSent: 0,
    payloadsReceived: 0,
    payloadsSpared: 0,
    relaysBeforeArrival: 0,
    duplicates: 0,
    idsAnnounced: 0,
    graftsSent: 0,
    graftMisses: 0,
    prunesSent: 0,
    sendFailures: 0,
    missingAbandoned: 0,
    announcementsDropped: 0,
    graftIdsRefused: 0,
    graftsDeclined: 0,
    linksShed: 0,
  }
}

/** 20 bytes of sha256(origin, 0, data): the same payload from the same origin is one message. */
export function messageIdOf(origin: Uint8Array, data: Uint8Array): Uint8Array {
  return createHash('sha256')
    .update(origin)
    .update(new Uint8Array([0]))
    .update(data)
    .digest()
    .subarray(0, 20)
}

/** Duplicates in a row that make a link lazy. */
const PRUNE_AFTER_DUPLICATES = 3
/**
 * The same, when the duplicates came by a shorter path than the first copies: the first were early
 * by chance (their sender's queue was short) a few times, but never this many times in a row. A path
 * with more hops that is always faster (a link between regions against two inside one) is not
 * chance, and without a limit its duplicates would be sent forever.
 */
const PRUNE_AFTER_SHORTER_PATH_DUPLICATES = 8

/** Well under the wire's 4,096 ids per frame; reached only above ~300,000 records/s. */
const MAX_IDS_PER_IHAVE = 1024

/**
 * Announced ids awaited at once: ~10 s of batches at full ingest. Without a bound, a member of the
 * mesh sending IHAVEs of made-up ids would grow the map and its timers without end.
 */
const MAX_MISSING = 16_384

/**
 * Ids answered per GRAFT frame: a repair asks for one. A GRAFT of thousands of cached ids would make
 * this node send megabytes for a few bytes received.
 */
const MAX_IDS_ANSWERED_PER_GRAFT = 64

const key = (id: Uint8Array): string =>
  Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')

/**
 * How long a node that declined a GRAFT (its tree degree is full) is not asked again while another
 * announcer can be: long enough for the tree to settle elsewhere, short enough that a node whose
 * links were pruned since is asked again.
 */
const FULL_BACKOFF_MS = 10_000

/** A neighbour that brought a payload first this recently is a parent, not shed. */
const PARENT_WINDOW_MS = 2000

/** Ids of GRAFTed payloads remembered (see `#grafted`): many seconds of repairs. */
const GRAFTED_IDS_KEPT = 4096

/** How fast the adaptive graft timeout returns to the configured one while no payload is late. */
const LATENESS_HALF_LIFE_MS = 2000

/** The adaptive graft timeout never exceeds the configured one by more than this factor. */
const MAX_GRAFT_TIMEOUT_FACTOR = 4

interface Missing {
  id: Uint8Array
  /** When the first IHAVE for it arrived. */
  announcedAt: number
  /** Announcers asked for it (their answers say nothing of how late unasked payloads come). */
  grafted: string[]
  announcers: string[]
  timer: TimerHandle | undefined
}

/**
 * An epidemic broadcast tree (Plumtree, Leitão, Pereira and Rodrigues, SRDS 2007) for one realm.
 * Payloads go to "eager" neighbours only and ids ("IHAVE") to the "lazy" rest. Every neighbour starts
 * eager; a neighbour that sends only duplicates (3 in a row) is made lazy (PRUNE), so the eager links settle
 * into a spanning tree and each node receives each payload about once, where gossipsub sends one copy
 * per mesh link. When an id arrives and its payload does not follow within `graftTimeoutMs` (a node
 * on the tree died, a link broke), the node asks the announcer (GRAFT), which makes that link eager:
 * the tree repairs itself from the lazy links. Unlike Plumtree over HyParView, whose small active
 * view bounds a node's degree, neighbours here are whatever libp2p connected: the degree is bounded
 * by `maxEagerPeers` instead, so no origin sends more than that many copies however large the fleet.
 */
export class Plumtree {
  readonly stats: PlumtreeStats = {
    eagerPeers: 0,
    lazyPeers: 0,
    ...emptyPlumtreeCounters(),
  }

  readonly #init: PlumtreeInit
  readonly #components: PlumtreeComponents
  readonly #clock: MeshClock
  readonly #random: () => number
  readonly #eager = new Set<string>()
  readonly #lazy = new Set<string>()
  /** Ids received or sent, with the hops their first copy had travelled. */
  readonly #seen: RecentIds<number>
  readonly #cache: LRUCache<string, GossipPayload>
  readonly #missing = new Map<string, Missing>()
  /** Duplicates in a row from each neighbour, since it last brought something new. */
  readonly #duplicateStreaks = new Map<string, number>()
  /** Ids to announce at the next flush. */
  #lazyIds: Uint8Array[] = []
  /** The fewest hops this node's copies of #lazyIds carry: sent with them (see #announcedHops). */
  #lazyHops = Number.POSITIVE_INFINITY
  /**
   * Neighbours that were lazy when those ids were forwarded, so did not get their payloads. The
   * flush picks from these, not from who is lazy at flush time: a neighbour grafted in between (its
   * parent died, say) would otherwise never hear of the batches that went down the dead branch.
   */
  readonly #lazyTargets = new Set<string>()
  /**
   * Neighbours a payload could not be queued to since the last flush (their queue was full): the
   * flush announces to them too, so that they GRAFT what they missed once their queue drains, rather
   * than wait for anti-entropy.
   */
  readonly #failedTargets = new Set<string>()
  /** Ids whose payload came by GRAFT: later copies of them say nothing of a redundant path. */
  readonly #grafted: LRUCache<string, true>
  /** When each neighbour last brought a payload first: the ones that did lately are not shed. */
  readonly #deliveredFirst = new Map<string, number>()
  /** When this node may next shed an eager link beyond its cap (see #shedOverCap). */
  #nextShedAt = 0
  /** Neighbours that declined to be eager (see FULL_BACKOFF_MS): when they may be asked again. */
  readonly #fullUntil = new Map<string, number>()
  /**
   * The hops each neighbour's copies carry, from its last IHAVE: a GRAFT goes to the announcer
   * nearest the origin. Random announcers would hang nodes below nodes already deep, where the cap
   * of 6 leaves room for every node of a 10-node fleet one relay below the origin.
   */
  readonly #announcedHops = new Map<string, number>()
  #lazyTimer: TimerHandle | undefined
  /** Smoothed lateness of unasked payloads after their IHAVE (see #sampleLateness). */
  #lateness: { mean: number; deviation: number; sampledAt: number } | undefined
  #stopped = false

  constructor(init: PlumtreeInit, components: PlumtreeComponents) {
    this.#init = init
    this.#components = components
    const clock = components.clock ?? realClock
    this.#clock = clock
    this.#random = components.random ?? Math.random
    const now = () => clock.now()
    this.#seen = new RecentIds({ maxEntries: init.seenEntries, ttlMs: init.seenTtlMs, now })
    this.#cache = new LRUCache({
      max: init.cacheEntries,
      ttl: init.cacheTtlMs,
      ttlAutopurge: false,
      // lru-cache reads performance.now and caches it for a millisecond of real time (ttlResolution):
      // an injected clock is read on every check instead, or a virtual run would depend on real time.
      ...(components.clock === undefined ? {} : { perf: { now }, ttlResolution: 0 }),
    })
    this.#grafted = new LRUCache({ max: GRAFTED_IDS_KEPT })
  }

  get neighbours(): number {
    return this.#eager.size + this.#lazy.size
  }

  addPeer(peer: string): void {
    if (this.#eager.has(peer) || this.#lazy.has(peer)) return
    this.#eager.add(peer)
    this.#updateCounts()
  }

  removePeer(peer: string): void {
    this.#eager.delete(peer)
    this.#lazy.delete(peer)
    this.#fullUntil.delete(peer)
    this.#announcedHops.delete(peer)
    this.#deliveredFirst.delete(peer)
    this.#duplicateStreaks.delete(peer)
    for (const entry of this.#missing.values()) entry.announcers = entry.announcers.filter((p) => p !== peer)
    this.#updateCounts()
  }

  /** Originates a payload: returns how many neighbours it was sent or announced to. */
  broadcast(payload: GossipPayload): number {
    const id = messageIdOf(payload.origin, payload.data)
    this.#seen.set(key(id), 0)
    this.#cache.set(key(id), payload)
    this.#shedOverCap()
    const reached = this.#sendPayload(payload, this.#eager, undefined)
    this.stats.originated++
    this.stats.originPayloadsSent += reached
    return reached + this.#announceLater(id, 0)
  }

  onGossip(from: string, payload: GossipPayload): void {
    const id = messageIdOf(payload.origin, payload.data)
    const k = key(id)
    const firstHops = this.#seen.get(k)
    if (firstHops !== undefined) {
      this.stats.duplicates++
      // The copy this node asked for came first: the neighbour that sent this one is on the tree
      // and only slow (its path was busy), so it is kept. Counting these would prune the links that
      // deliver, leaving nodes with no eager link and every batch GRAFTed: a saturated fleet would
      // never settle.
      if (this.#grafted.has(k)) return
      // A second path to us: keep one. The link stays for announcements. Only a link that brought
      // nothing but duplicates lately is pruned: with batches in flight on every link at once, a
      // tree link also brings the odd duplicate, and pruning on the first one (as Plumtree does)
      // cuts tree links as fast as GRAFTs restore them. A neighbour whose copies come by a shorter
      // path than the first ones needs a longer streak, so that queueing noise does not reshape a
      // tree grown along shortest paths. Above the eager cap (every link starts eager) the first
      // duplicate prunes: waiting would make the start-up flood last several batches instead of
      // one, on a saturated host seconds of backlog after which the tree may never settle.
      const streak = (this.#duplicateStreaks.get(from) ?? 0) + 1
      const limit = payload.hops < firstHops ? PRUNE_AFTER_SHORTER_PATH_DUPLICATES : PRUNE_AFTER_DUPLICATES
      if (streak < limit && this.#eager.size <= this.#init.maxEagerPeers) {
        this.#duplicateStreaks.set(from, streak)
        return
      }
      this.#duplicateStreaks.delete(from)
      // PRUNE even when the link is already lazy here: the sender still has it eager (a GRAFT or a
      // PRUNE crossed on the way).
      this.#demote(from)
      this.stats.prunesSent++
      this.#sendPrune(from, false)
      return
    }
    // Checked before it is marked seen: a forged copy that came first must not make the genuine one
    // a duplicate.
    if (!this.#components.authenticate(payload, from)) return
    this.#seen.set(k, payload.hops)
    this.#deliveredFirst.set(from, this.#clock.now())
    const announcers = this.#clearMissing(k, from)
    this.#duplicateStreaks.delete(from)
    this.stats.payloadsReceived++
    this.stats.relaysBeforeArrival += payload.hops
    // Forwarded once its origin is proven, before it is validated and stored here: that work takes
    // about a millisecond per batch at every relay, and would lie on the path of every node below.
    // What its records are worth is for each node to judge; a payload its origin signed invalid
    // costs the origin, not the relays (deliver).
    // A payload that came first by a link that is lazy here leaves it lazy (Plumtree makes it eager):
    // it was in flight when the PRUNE crossed, and its sender has stopped pushing on that link. A
    // GRAFT restores links.
    this.#cache.set(k, payload)
    this.#shedOverCap()
    // Not back to its origin either, when that is a neighbour: it has it, and each copy sent back
    // would be a duplicate that prunes a link.
    this.#sendPayload(
      { ...payload, hops: payload.hops + 1 },
      this.#eager,
      from,
      key(payload.origin),
      announcers,
    )
    // Announced even when nothing in it was new here ('ignore': this node had it by anti-entropy,
    // or it is from a newer version or a clock ahead): a neighbour may not have it.
    const verdict = this.#components.deliver(payload, from)
    if (typeof verdict === 'string') this.#announceUnlessRejected(verdict, id, payload.hops + 1)
    else
      verdict.then(
        (later) => this.#announceUnlessRejected(later, id, payload.hops + 1),
        () => this.#announceUnlessRejected('ignore', id, payload.hops + 1),
      )
  }

  /** A payload its origin signed invalid is not announced: nobody should GRAFT it. */
  #announceUnlessRejected(verdict: DeliveryVerdict, id: Uint8Array, hops: number): void {
    if (verdict !== 'reject' && !this.#stopped) this.#announceLater(id, hops)
  }

  onIHave(from: string, ids: Uint8Array[], hops = 0): void {
    if (!this.#eager.has(from) && !this.#lazy.has(from)) return
    this.#announcedHops.set(from, hops)
    for (const id of ids) {
      const k = key(id)
      if (this.#seen.has(k)) continue
      let entry = this.#missing.get(k)
      if (entry === undefined) {
        if (this.#missing.size >= MAX_MISSING) {
          this.stats.announcementsDropped++
          continue
        }
        entry = { id, announcedAt: this.#clock.now(), grafted: [], announcers: [], timer: undefined }
        this.#missing.set(k, entry)
        entry.timer = this.#clock.setTimer(this.currentGraftTimeout(), () => this.#graft(k))
      }
      if (!entry.announcers.includes(from)) entry.announcers.push(from)
    }
  }

  onGraft(from: string, ids: Uint8Array[]): void {
    if (!this.#eager.has(from) && !this.#lazy.has(from)) return
    const declined = this.#lazy.has(from) && this.#eager.size >= this.#init.maxEagerPeers
    if (!declined) this.#promote(from)
    this.#answerGraft(from, ids)
    if (declined) {
      this.stats.graftsDeclined++
      this.#sendPrune(from, true)
    }
  }

  onPrune(from: string, full: boolean): void {
    if (full) this.#fullUntil.set(from, this.#clock.now() + FULL_BACKOFF_MS)
    this.#demote(from)
  }

  stop(): void {
    this.#stopped = true
    this.#clock.clearTimer(this.#lazyTimer)
    for (const entry of this.#missing.values()) this.#clock.clearTimer(entry.timer)
    this.#missing.clear()
  }

  /**
   * Above the cap, makes one eager neighbour lazy (a "full" PRUNE) at most every `shedIntervalMs`,
   * one that has not brought anything first lately (a child, not a parent). Every link starts eager,
   * so the first batches go to all neighbours and duplicate pruning settles the tree at once, even
   * under full load: a star around a busy origin. The star is then thinned one child at a time, each
   * of which GRAFTs its way below another node. Capping at once (links beyond the cap lazy from the
   * start) makes every node beyond it GRAFT at the same moment, and on a saturated host the tree
   * does not settle.
   */
  #shedOverCap(): void {
    if (this.#eager.size <= this.#init.maxEagerPeers) return
    const now = this.#clock.now()
    if (now < this.#nextShedAt) return
    this.#nextShedAt = now + this.#init.shedIntervalMs
    const children = [...this.#eager].filter(
      (peer) => now - (this.#deliveredFirst.get(peer) ?? 0) > PARENT_WINDOW_MS,
    )
    const [peer] = this.#sample(children, 1)
    if (peer === undefined) return
    this.#demote(peer)
    this.stats.linksShed++
    this.#sendPrune(peer, true)
  }

  /** Makes a lazy link eager here (nothing for an eager link or a stranger). */
  #promote(peer: string): void {
    if (!this.#lazy.delete(peer)) return
    this.#eager.add(peer)
    this.#updateCounts()
  }

  /** Makes an eager link lazy here (nothing for a lazy link or a stranger). */
  #demote(peer: string): void {
    if (!this.#eager.delete(peer)) return
    this.#lazy.add(peer)
    this.#updateCounts()
  }

  #sendPrune(peer: string, full: boolean): void {
    this.#components.send(peer, { kind: BroadcastKind.PRUNE, realm: this.#init.realm, full })
  }

  #answerGraft(from: string, ids: Uint8Array[]): void {
    if (ids.length > MAX_IDS_ANSWERED_PER_GRAFT) {
      this.stats.graftIdsRefused += ids.length - MAX_IDS_ANSWERED_PER_GRAFT
      ids = ids.slice(0, MAX_IDS_ANSWERED_PER_GRAFT)
    }
    for (const id of ids) {
      const payload = this.#cache.get(key(id))
      if (payload === undefined) {
        this.stats.graftMisses++
        continue
      }
      this.stats.payloadsSent++
      if (!this.#components.send(from, { kind: BroadcastKind.GOSSIP, ...payload })) this.stats.sendFailures++
    }
  }

  #sendPayload(
    payload: GossipPayload,
    peers: Iterable<string>,
    from: string | undefined,
    origin?: string,
    holders?: string[],
  ): number {
    let reached = 0
    // One frame object for every neighbour: the transport encodes it once.
    const frame: OutboundFrame = { kind: BroadcastKind.GOSSIP, ...payload }
    for (const peer of peers) {
      if (peer === from || peer === origin) continue
      // A neighbour that announced it has it: a copy would only be a duplicate. Payloads come after
      // their announcements when the tree is slow, which is when duplicates cost the most.
      if (holders?.includes(peer)) {
        this.stats.payloadsSpared++
        continue
      }
      this.stats.payloadsSent++
      if (this.#components.send(peer, frame)) {
        reached++
      } else {
        this.stats.sendFailures++
        this.#failedTargets.add(peer)
      }
    }
    return reached
  }

  /** Queues an id for the next IHAVE flush to the lazy neighbours; returns how many it will reach. */
  #announceLater(id: Uint8Array, hops: number): number {
    if (this.#lazy.size === 0 && this.#failedTargets.size === 0) return 0
    this.#lazyIds.push(id)
    this.#lazyHops = Math.min(this.#lazyHops, hops)
    for (const peer of this.#lazy) this.#lazyTargets.add(peer)
    const reached = Math.min(this.#lazyTargets.size, this.#init.lazyFanout)
    if (this.#lazyIds.length >= MAX_IDS_PER_IHAVE) {
      this.#clock.clearTimer(this.#lazyTimer)
      this.#flushLazy()
    } else if (this.#lazyTimer === undefined && !this.#stopped) {
      this.#lazyTimer = this.#clock.setTimer(this.#init.lazyFlushMs, () => this.#flushLazy())
    }
    return reached
  }

  #flushLazy(): void {
    this.#lazyTimer = undefined
    const ids = this.#lazyIds
    const hops = this.#lazyHops
    this.#lazyIds = []
    this.#lazyHops = Number.POSITIVE_INFINITY
    const isNeighbour = (peer: string): boolean => this.#eager.has(peer) || this.#lazy.has(peer)
    const targets = new Set(this.#sample([...this.#lazyTargets].filter(isNeighbour), this.#init.lazyFanout))
    for (const peer of this.#failedTargets) if (isNeighbour(peer)) targets.add(peer)
    this.#lazyTargets.clear()
    this.#failedTargets.clear()
    // One frame object for every announcement: the transport encodes it once.
    const frame: OutboundFrame = { kind: BroadcastKind.IHAVE, realm: this.#init.realm, ids, hops }
    for (const peer of targets) {
      this.stats.idsAnnounced += ids.length
      if (!this.#components.send(peer, frame)) this.stats.sendFailures++
    }
  }

  #graft(k: string): void {
    const entry = this.#missing.get(k)
    if (entry === undefined || this.#stopped) return
    if (this.#seen.has(k)) {
      this.#missing.delete(k)
      return
    }
    // The announcer nearest the origin, at random among equals (not the first to announce: that is
    // the origin itself each time, which would make it the hub of the tree). One that declined
    // lately (the origin once it has its cap of children) only when nobody else announced it.
    const now = this.#clock.now()
    const open = entry.announcers.filter((peer) => (this.#fullUntil.get(peer) ?? 0) <= now)
    const candidates = open.length > 0 ? open : entry.announcers
    const hopsOf = (peer: string): number => this.#announcedHops.get(peer) ?? 0
    const nearest = Math.min(...candidates.map(hopsOf))
    const [announcer] = this.#sample(
      candidates.filter((peer) => hopsOf(peer) === nearest),
      1,
    )
    if (announcer === undefined) {
      // Nobody left to ask: anti-entropy will bring it.
      this.stats.missingAbandoned++
      this.#missing.delete(k)
      return
    }
    entry.announcers = entry.announcers.filter((peer) => peer !== announcer)
    this.#promote(announcer)
    entry.grafted.push(announcer)
    this.stats.graftsSent++
    this.#components.send(announcer, { kind: BroadcastKind.GRAFT, realm: this.#init.realm, ids: [entry.id] })
    entry.timer = this.#clock.setTimer(this.#init.regraftTimeoutMs, () => this.#graft(k))
  }

  /** Stops waiting for a payload that came; returns the neighbours known to have it (they announced it). */
  #clearMissing(k: string, from: string): string[] | undefined {
    const entry = this.#missing.get(k)
    if (entry === undefined) return undefined
    this.#clock.clearTimer(entry.timer)
    this.#missing.delete(k)
    if (entry.grafted.length > 0) this.#grafted.set(k, true)
    if (!entry.grafted.includes(from)) this.#sampleLateness(this.#clock.now() - entry.announcedAt)
    return [...entry.announcers, ...entry.grafted]
  }

  /**
   * How late payloads come after their announcement when nobody asked for them, smoothed as TCP
   * smooths round-trip times (RFC 6298). On a saturated host every path is slow, and a fixed timeout
   * makes nodes GRAFT payloads already on their way: each GRAFT adds an eager link and its duplicates
   * add load.
   */
  #sampleLateness(ms: number): void {
    const now = this.#clock.now()
    if (this.#lateness === undefined) {
      this.#lateness = { mean: ms, deviation: ms / 2, sampledAt: now }
    } else {
      this.#lateness.deviation += (Math.abs(ms - this.#lateness.mean) - this.#lateness.deviation) / 4
      this.#lateness.mean += (ms - this.#lateness.mean) / 8
      this.#lateness.sampledAt = now
    }
  }

  /**
   * What the lateness asks for, less the more time has passed since a payload was last late: once
   * the tree carries every payload ahead of its IHAVE, no sample comes to bring the estimate down,
   * and a timeout left at its busiest would make every later repair wait up to 4x longer.
   */
  currentGraftTimeout(): number {
    const floor = this.#init.graftTimeoutMs
    if (this.#lateness === undefined) return floor
    const wanted = this.#lateness.mean + 4 * this.#lateness.deviation
    const decay = 0.5 ** ((this.#clock.now() - this.#lateness.sampledAt) / LATENESS_HALF_LIFE_MS)
    const adapted = floor + Math.max(0, wanted - floor) * decay
    return Math.min(MAX_GRAFT_TIMEOUT_FACTOR * floor, Math.round(adapted))
  }

  #sample<T>(items: T[], count: number): T[] {
    return randomSample(items, count, this.#random)
  }

  #updateCounts(): void {
    this.stats.eagerPeers = this.#eager.size
    this.stats.lazyPeers = this.#lazy.size
  }
}
