import type { IdentifyResult, PeerId, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Logger } from '@tlsmesh/store'
import {
  decodeSyncMessage,
  encodeSyncMessage,
  resolveSyncLimits,
  SyncKind,
  type SyncLimits,
  type SyncMessage,
  SyncProofTable,
} from '@tlsmesh/wire'
import { type MeshClock, repeat, type TimerHandle } from '../clock.ts'
import { TOPIC_PREFIX } from '../constants.ts'
import { type RecordRefusal, SyncPeerMisbehavedError } from '../errors.ts'
import { connectedPeers, type NetworkComponents } from '../network-components.ts'
import type { CheckedProof, RecordAuthenticator } from '../record-auth.ts'
import { SessionDeadline } from './session-deadline.ts'
import type { ReconciliationResult } from './set-reconciliation.ts'
import {
  type SessionTally,
  SPREAD_MIN_AGE_MS,
  type SyncReplicaSession,
  type SyncReplicaSessions,
} from './sync-replica.ts'
import { nextTurn, TimeSlice } from './time-slice.ts'

/**
 * Nodes reconcile only with nodes that compute fingerprints the same way: the major version changes
 * with the fingerprint function (2: one sha256 per record, mixed with its version), so that a fleet
 * mid-upgrade skips catch-up between versions instead of finding every range different. 3 has the
 * fingerprints of 2 and numbers proofs within a session (`SyncProofTable`).
 */
export const SYNC_PROTOCOL = `${TOPIC_PREFIX}/sync/3.0.0`
/**
 * The protocol before proofs were numbered within a session (every page carried its records'
 * proofs in full): still served and dialed after SYNC_PROTOCOL, so that a fleet upgrading one node
 * at a time keeps reconciling.
 */
const SYNC_PROTOCOL_V2 = `${TOPIC_PREFIX}/sync/2.0.0`
const SYNC_PROTOCOLS = [SYNC_PROTOCOL, SYNC_PROTOCOL_V2]
/** Peers remembered as lost, the oldest forgotten first; a reconnection of one of them triggers a sync. */
const MAX_LOST_PEERS = 1024
/** A whole session's deadline, in message deadlines (`timeoutMs`, 30 s by default: 10 minutes). */
const SESSION_TIMEOUTS = 20
/** Times in a row a declined reconciliation is retried before the periodic round takes over. */
const MAX_DECLINED_RETRIES = 5
/** Reconciliations waiting for the one running; one per peer, the rest left to the periodic one. */
const MAX_PENDING_SYNCS = 64
/**
 * A reconciliation with a peer met (again) waits this long, plus as much again at random, and is
 * dropped if the peer reconciles with this node meanwhile: one reconciliation covers both sides.
 * Starting both at once would send a restarted node its replica twice: 2x the bytes of a copy.
 */
const MEETING_SYNC_DELAY_MS = 250
/** A responder's turn: past this, the steps of one message (decode, answer, encode) go on in the next. */
const DEFAULT_SERVE_SLICE_MS = 2

export interface SyncServiceInit {
  realms: string[]
  /** Reconcile with one random peer this often. */
  intervalMs: number
  /** A whole reconciliation (all realms with one peer) must finish within this. */
  timeoutMs: number
  limits?: Partial<SyncLimits>
  /** A responder's turn, in ms: past it, decoding, answering and encoding a message are turns of their own. */
  serveSliceMs?: number
}

export interface SyncServiceComponents extends NetworkComponents {
  /** What sessions read and store: the replica's side of sync, here or on another thread. */
  replica: SyncReplicaSessions
  clock: MeshClock
  /** Checks that each record received is its origin's. */
  auth: RecordAuthenticator
  /** Counts records refused before the replica saw them (forged). */
  onRefused?: (reason: RecordRefusal, records: number) => void
  /** A peer sent forged or unrequested records: a strike against it. */
  penalize?: (peer: string, reason: RecordRefusal) => void
  logger?: Logger
}

export interface SyncStats {
  /** Reconciliations this node started, and how they ended. */
  started: number
  succeeded: number
  failed: number
  /** Reconciliations peers started with this node, and those it declined while running its own. */
  served: number
  /** Of those, the ones that ran to the end: each also brought this node what that peer held. */
  servedCompleted: number
  declined: number
  /** Reconciliations this node started that the peer declined (it was running one): retried soon. */
  declinedByPeer: number
  recordsPulled: number
  recordsPushed: number
  bytesSent: number
  bytesReceived: number
  running: boolean
  lastSyncAt: number | null
  lastResult: (ReconciliationResult & { peer: string; durationMs: number }) | null
}

/** A service's stats before it has done anything. */
export function emptySyncStats(): SyncStats {
  return {
    started: 0,
    succeeded: 0,
    failed: 0,
    served: 0,
    servedCompleted: 0,
    declined: 0,
    declinedByPeer: 0,
    recordsPulled: 0,
    recordsPushed: 0,
    bytesSent: 0,
    bytesReceived: 0,
    running: false,
    lastSyncAt: null,
    lastResult: null,
  }
}

/**
 * Anti-entropy: gossip only carries what is new, so a node that joins, restarts or comes back from a
 * partition reconciles its replica with a peer, realm by realm (set reconciliation over key ranges,
 * see set-reconciliation.ts): at once when it meets a peer after having none, a moment later (unless
 * that peer reconciled with it meanwhile) when it meets a peer for the first time or one it had lost
 * comes back, and periodically with one random peer.
 *
 * The reconnection of a lost peer matters after a partition: each half keeps peers on its own side, so
 * no node is ever isolated, and without it the halves would wait for the periodic sync (30 s) to
 * exchange what each published meanwhile. Gossip does not resend it, and records pulled by a sync are
 * not gossiped on, so every node reconciles with a peer from the other side that it gets back.
 */
export class SyncService {
  readonly stats: SyncStats = emptySyncStats()

  readonly #init: SyncServiceInit
  readonly #components: SyncServiceComponents
  readonly #limits: Readonly<SyncLimits>
  readonly #realms: Set<string>
  #stopTicking: (() => void) | undefined
  readonly #shutdown = new AbortController()
  /** Set when this node has no peer: the next peer it meets gets a reconciliation at once. */
  #isolated = true
  /** The peer of the reconciliation this node is running, if any. */
  #runningWith: string | undefined
  /** When this node last asked a peer about young records it was taught (#checkYoungLater). */
  #lastYoungCheck = Number.NEGATIVE_INFINITY
  /** Peers this node has reconciled with or queued, oldest first (bounded like `lost`). */
  readonly #met = new Set<string>()
  /**
   * Peers reconciling with this node right now, with how many of their sessions it serves. Such a
   * session sends each side what the other lacks: one of this node's own would do it again, beside
   * it (a restarted node pulling a large replica, and its peer meeting it again a moment later).
   */
  readonly #serving = new Map<string, number>()
  /** Peers whose last reconciliation was declined, and how many times in a row. */
  readonly #declinedRetries = new Map<string, number>()
  /** Peers whose last connection closed (insertion order: oldest first). */
  readonly #lost = new Set<string>()
  readonly #pending = new Map<string, PeerId>()
  /** Reconciliations with peers just met, waiting out MEETING_SYNC_DELAY_MS. */
  readonly #delayed = new Map<string, TimerHandle>()
  /** Retries of declined reconciliations (#retryLater) and young-record checks, cancelled on stop. */
  readonly #retries = new Set<TimerHandle>()

  constructor(init: SyncServiceInit, components: SyncServiceComponents) {
    this.#init = init
    this.#components = components
    this.#limits = resolveSyncLimits(init.limits)
    this.#realms = new Set(init.realms)
  }

  async start(): Promise<void> {
    const { registrar, events } = this.#components
    for (const protocol of SYNC_PROTOCOLS) {
      await registrar.handle(protocol, (stream, connection) => this.#serve(stream, connection.remotePeer), {
        maxInboundStreams: 4,
        maxOutboundStreams: 4,
      })
    }
    events.addEventListener('peer:identify', this.#onIdentify)
    events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#stopTicking = repeat(this.#components.clock, this.#init.intervalMs, () =>
      this.#syncWithRandomPeer(),
    )
  }

  async stop(): Promise<void> {
    const { registrar, events } = this.#components
    const { clock } = this.#components
    this.#stopTicking?.()
    this.#shutdown.abort()
    this.#pending.clear()
    for (const timer of [...this.#delayed.values(), ...this.#retries]) clock.clearTimer(timer)
    this.#delayed.clear()
    this.#retries.clear()
    events.removeEventListener('peer:identify', this.#onIdentify)
    events.removeEventListener('peer:disconnect', this.#onDisconnect)
    for (const protocol of SYNC_PROTOCOLS) await registrar.unhandle(protocol)
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = event.detail
    const key = peerId.toString()
    const returning = this.#lost.delete(key)
    if (!SYNC_PROTOCOLS.some((protocol) => protocols.includes(protocol))) return
    // A peer met for the first time may hold what this node published before they were connected
    // (a fleet starting together, a ticket key proposed before the mesh formed), and gossip will not
    // resend it: reconcile with it. Equal replicas cost one round trip of a few dozen bytes.
    const firstMeeting = !this.#met.has(key)
    if (firstMeeting) {
      this.#met.add(key)
      if (this.#met.size > MAX_LOST_PEERS) this.#met.delete(this.#met.values().next().value!)
    }
    if (this.#isolated) {
      // Alone until now: catch up at once.
      this.#isolated = false
      this.#enqueue(peerId)
    } else if (returning || firstMeeting) {
      this.#enqueueLater(peerId)
    }
  }

  /**
   * A peer that declined is asked again a moment later, up to MAX_DECLINED_RETRIES times in a row.
   * Not through `delayed`: a peer that reconciles with this node meanwhile cancels those, and this
   * node's own first catch-up (what readiness waits for) must still happen; with the replicas just
   * reconciled it costs one round trip.
   */
  #retryLater(peer: PeerId): void {
    const key = peer.toString()
    const retries = (this.#declinedRetries.get(key) ?? 0) + 1
    if (retries > MAX_DECLINED_RETRIES) {
      this.#declinedRetries.delete(key)
      return
    }
    this.#declinedRetries.set(key, retries)
    if (this.#declinedRetries.size > MAX_LOST_PEERS) {
      this.#declinedRetries.delete(this.#declinedRetries.keys().next().value!)
    }
    const timer = this.#components.clock.setTimer(MEETING_SYNC_DELAY_MS * (1 + Math.random()), () => {
      this.#retries.delete(timer)
      this.#enqueue(peer)
    })
    this.#retries.add(timer)
  }

  #enqueueLater(peer: PeerId): void {
    const key = peer.toString()
    if (this.#delayed.has(key) || this.#delayed.size >= MAX_PENDING_SYNCS) return
    const delay = MEETING_SYNC_DELAY_MS * (1 + Math.random())
    const timer = this.#components.clock.setTimer(delay, () => {
      this.#delayed.delete(key)
      this.#enqueue(peer)
    })
    this.#delayed.set(key, timer)
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const key = event.detail.toString()
    this.#lost.delete(key)
    this.#lost.add(key)
    if (this.#lost.size > MAX_LOST_PEERS) this.#lost.delete(this.#lost.values().next().value!)
    if (this.#components.connectionManager.getConnections().length === 0) this.#isolated = true
  }

  #enqueue(peer: PeerId): void {
    if (this.#pending.size >= MAX_PENDING_SYNCS) return
    this.#pending.set(peer.toString(), peer)
    this.#drain()
  }

  /** Starts the next pending reconciliation, if none is running; each one's end starts the next. */
  #drain(): void {
    if (this.stats.running || this.#shutdown.signal.aborted) return
    for (const [key, peer] of this.#pending) {
      this.#pending.delete(key)
      // A peer that left again is not worth a dial: its next return queues it again.
      if (this.#components.connectionManager.getConnections(peer).length === 0) continue
      if (this.#serving.has(key)) continue
      void this.syncWith(peer)
      return
    }
  }

  #syncWithRandomPeer(): void {
    const peers = connectedPeers(this.#components.connectionManager).filter(
      (peer) => !this.#serving.has(peer.toString()),
    )
    if (peers.length === 0 || this.stats.running) return
    void this.syncWith(peers[Math.floor(Math.random() * peers.length)]!)
  }

  /** Reconciles every realm with `peer`. Never throws: failures are counted and logged. */
  async syncWith(peer: PeerId): Promise<boolean> {
    const { connectionManager, logger } = this.#components
    if (this.stats.running) return false
    this.stats.running = true
    this.#runningWith = peer.toString()
    this.stats.started++
    const started = this.#components.clock.now()
    const session = this.#session()
    let stream: Stream | undefined
    let replica: SyncReplicaSession | undefined
    try {
      stream = await connectionManager.openStream(peer, SYNC_PROTOCOLS, { signal: session.step() })
      const lp = lpStream(stream, { maxDataLength: this.#limits.maxMessageBytes })
      const proofs = proofTables(stream)
      replica = this.#components.replica.session(proofs.sent !== undefined)
      const total = await replica.reconcile(this.#realms, this.#exchanger(lp, session, proofs))
      await lp.write(encodeSyncMessage(doneMessage([...this.#realms][0]!)), { signal: session.step() })
      await stream.close({ signal: session.step() })
      this.#succeeded(peer.toString(), total, this.#components.clock.now() - started)
      this.#spreadAfter(peer.toString(), await replica.close())
      replica = undefined
      return true
    } catch (err) {
      stream?.abort(err as Error)
      if (err instanceof SyncDeclinedError) {
        this.stats.declinedByPeer++
        this.#retryLater(peer)
        return false
      }
      this.stats.failed++
      this.#strikeIfMisbehaved(peer.toString(), err)
      logger?.debug({ peer: peer.toString(), err: (err as Error).message }, 'reconciliation failed')
      return false
    } finally {
      session.end()
      void replica?.close().catch(() => {})
      this.stats.running = false
      this.#runningWith = undefined
      this.#drain()
    }
  }

  /**
   * The initiator's request/reply over `lp`, each message under its own deadline. A message may go
   * out before the answer to the one before is in (record pages are pipelined): writes go in the
   * order the messages are made, and each reply is read after the one before it, as the peer answers
   * in order and both sides number proofs in that order. A page of records comes back authenticated.
   */
  #exchanger(
    lp: LengthPrefixedStream<Stream>,
    session: SessionDeadline,
    proofs: ProofTables,
  ): (message: SyncMessage) => Promise<SyncMessage> {
    let lastWrite: Promise<unknown> = Promise.resolve()
    let lastRead: Promise<unknown> = Promise.resolve()
    return (message) => {
      const bytes = encodeSyncMessage(message, proofs.sent)
      this.stats.bytesSent += bytes.byteLength
      const signal = session.step()
      const written = lastWrite.then(() => lp.write(bytes, { signal }))
      const replied = Promise.all([written, lastRead]).then(async () => {
        const reply = (await lp.read({ signal })).subarray()
        this.stats.bytesReceived += reply.byteLength
        const decoded = decodeSyncMessage(reply, this.#limits, proofs.received)
        if (decoded.kind === SyncKind.DONE) {
          throw new SyncDeclinedError('the peer is reconciling with another')
        }
        return this.#authenticate(decoded)
      })
      lastWrite = written.catch(() => {})
      lastRead = replied.catch(() => {})
      return replied
    }
  }

  #succeeded(peer: string, total: ReconciliationResult, durationMs: number): void {
    this.stats.succeeded++
    this.#declinedRetries.delete(peer)
    this.stats.recordsPulled += total.pulled
    this.stats.recordsPushed += total.pushed
    this.stats.lastSyncAt = this.#components.clock.now()
    this.stats.lastResult = { ...total, peer, durationMs }
    if (total.pulled + total.pushed > 0) {
      this.#components.logger?.info({ peer, ...total, durationMs }, 'replica reconciled')
    }
  }

  /**
   * A session's deadlines: `timeoutMs` for each message exchanged, and SESSION_TIMEOUTS of them for
   * the whole session. A replica of 1,000,000 records moves in hundreds of quick rounds, which one
   * deadline of `timeoutMs` would cut off after 30 s; a peer that goes quiet is still given up on
   * after one.
   */
  #session(): SessionDeadline {
    const { timeoutMs } = this.#init
    return new SessionDeadline(timeoutMs, timeoutMs * SESSION_TIMEOUTS, this.#shutdown.signal)
  }

  async #reply(
    lp: LengthPrefixedStream<Stream>,
    message: SyncMessage,
    signal: AbortSignal,
    sent?: SyncProofTable,
  ) {
    const encoded = encodeSyncMessage(message, sent)
    this.stats.bytesSent += encoded.byteLength
    await lp.write(encoded, { signal })
  }

  #strikeIfMisbehaved(peer: string, err: unknown): void {
    if (!(err instanceof SyncPeerMisbehavedError)) return
    this.#components.logger?.warn({ peer, reason: err.code }, 'a sync peer sent records it may not send')
    this.#components.penalize?.(peer, err.code)
  }

  /**
   * A message from a peer as the replica side takes it: each of a page's records covered by its
   * proof, the proofs the checked copies (a replica keeps one per batch). The first forged record
   * refuses the whole page and ends the session (SyncPeerMisbehavedError): that is provably the
   * peer's doing. Whether each was asked for, and of an allowed origin, is the replica side's to say.
   */
  #authenticate(message: SyncMessage): SyncMessage {
    if (message.records.length === 0) return message
    const { auth } = this.#components
    // Checked only when a record points at it: proofs nobody uses cost nothing.
    const checked = new Map<number, CheckedProof | undefined>()
    const proofs = message.proofs.slice()
    for (const record of message.records) {
      if (!checked.has(record.proof)) {
        checked.set(record.proof, auth.checkProof(message.realm, message.proofs[record.proof]!))
      }
      const proof = checked.get(record.proof)
      if (proof === undefined || !auth.covers(proof, record)) {
        throw this.#refuse('forged', message.records.length)
      }
      proofs[record.proof] = proof.proof
    }
    return { ...message, proofs }
  }

  /**
   * A reconciliation with `from` ended, having taught this node `learnt` records: it reconciles with
   * every other peer it is connected to, a moment later each, and each of them that learns something
   * does the same. Records pulled by catch-up are not gossiped on, so this is how what crossed on the
   * links that came back after a partition reaches every node within seconds. Every peer, not a
   * random few: a node that no learner picks waits for the periodic round (30 s), and with random
   * picks some always did at N = 200 to 10,000 (pnpm sim). A peer with nothing new costs one round trip.
   */
  #spreadAfter(from: string, tally: SessionTally): void {
    if (tally.learnt > 0) {
      for (const peer of this.#peersBut(from)) this.#enqueueLater(peer)
    } else if (tally.young > 0) {
      this.#checkYoungLater(from)
    }
  }

  /**
   * Records younger than SPREAD_MIN_AGE_MS start no spread, as most are on their way down the tree.
   * Not all: an origin whose links died unnoticed, and that found new ones at once, hands its
   * latest records to its first new peer by catch-up alone, and the tree never carries them. So
   * once they are old enough, one more random peer is asked: one that lacks them learns records old
   * enough to spread them. At most once per period: under steady publishing nearly every
   * reconciliation finds records in flight, and each check would find more.
   */
  #checkYoungLater(from: string): void {
    const { clock } = this.#components
    if (clock.now() - this.#lastYoungCheck < this.#init.intervalMs) return
    this.#lastYoungCheck = clock.now()
    const timer = clock.setTimer(SPREAD_MIN_AGE_MS, () => {
      this.#retries.delete(timer)
      const others = this.#peersBut(from)
      if (others.length > 0) this.#enqueue(others[Math.floor(Math.random() * others.length)]!)
    })
    this.#retries.add(timer)
  }

  #peersBut(from: string): PeerId[] {
    return connectedPeers(this.#components.connectionManager).filter((peer) => peer.toString() !== from)
  }

  #refuse(reason: RecordRefusal, records: number): SyncPeerMisbehavedError {
    this.#components.onRefused?.(reason, records)
    return new SyncPeerMisbehavedError(reason)
  }

  /** The responder: answers QUERY and RECORDS until DONE; listed ranges are kept per realm reconciled. */
  /**
   * One reconciliation at a time, in either role: a node that restarts pulls its replica from the
   * first peer it meets while the others, seeing it come back, push the same records to it, each a
   * whole realm. The decliner's own session brings what they would; they retry later. Two nodes that
   * start one with each other at once (both were alone) keep one: the lower peer id serves.
   */
  #declines(peer: string): boolean {
    if (!this.stats.running) return false
    return this.#runningWith !== peer || this.#components.peerId.toString() > peer
  }

  async #serve(stream: Stream, peer: PeerId): Promise<void> {
    if (this.#declines(peer.toString())) {
      this.stats.declined++
      const lp = lpStream(stream, { maxDataLength: this.#limits.maxMessageBytes })
      const session = this.#session()
      const signal = session.step()
      await lp.write(encodeSyncMessage(doneMessage([...this.#realms][0]!)), { signal }).then(
        () => stream.close({ signal }),
        (err: Error) => stream.abort(err),
      )
      session.end()
      return
    }
    this.stats.served++
    // The peer reconciles with this node: the one this node was about to start with it is moot, and
    // so is any that comes due while this one runs (#serving).
    const key = peer.toString()
    this.#components.clock.clearTimer(this.#delayed.get(key))
    this.#delayed.delete(key)
    this.#pending.delete(key)
    const session = this.#session()
    const lp = lpStream(stream, { maxDataLength: this.#limits.maxMessageBytes })
    const proofs = proofTables(stream)
    const replica = this.#components.replica.session(proofs.sent !== undefined)
    this.#serving.set(key, (this.#serving.get(key) ?? 0) + 1)
    try {
      for (;;) {
        const signal = session.step()
        const bytes = (await lp.read({ signal })).subarray()
        this.stats.bytesReceived += bytes.byteLength
        // One message a turn: a peer's requests that arrived together would otherwise be answered
        // back to back in one task, while a handshake or a memcached get waits behind them.
        await nextTurn()
        // Decoding, answering and encoding a large message (a 4,096-range query: ~3, 4 and 3 ms at
        // 100,000 records) are turns of their own once the turn has run serveSliceMs.
        const slice = new TimeSlice(this.#init.serveSliceMs ?? DEFAULT_SERVE_SLICE_MS, signal, 1)
        const message = decodeSyncMessage(bytes, this.#limits, proofs.received)
        if (message.kind === SyncKind.DONE) {
          this.stats.servedCompleted++
          this.#spreadAfter(key, await replica.close())
          break
        }
        // Only realms this node serves: another realm's records are never read or stored here. A
        // query for one gets an empty answer (nothing differs), so that a peer serving more realms
        // (ticket keys on some nodes only) still reconciles the realms both serve in this session.
        if (!this.#realms.has(message.realm)) {
          if (message.kind !== SyncKind.QUERY) throw new Error('sync for a realm this node does not serve')
          await this.#reply(lp, emptyAnswer(message.realm), signal)
          continue
        }
        const authenticated = this.#authenticate(message)
        await slice.maybeYield()
        const reply = await replica.answer(authenticated)
        await slice.maybeYield()
        await this.#reply(lp, reply, signal, proofs.sent)
      }
      await stream.close({ signal: session.step() })
    } catch (err) {
      stream.abort(err as Error)
      this.#strikeIfMisbehaved(key, err)
      this.#components.logger?.debug({ err: (err as Error).message }, 'serving a reconciliation failed')
    } finally {
      session.end()
      void replica.close().catch(() => {})
      const sessions = (this.#serving.get(key) ?? 1) - 1
      if (sessions > 0) this.#serving.set(key, sessions)
      else this.#serving.delete(key)
    }
  }
}

function doneMessage(realm: string): SyncMessage {
  return { kind: SyncKind.DONE, realm, ranges: [], records: [], proofs: [], wanted: [] }
}

/** The peer answered DONE before anything else: it runs a reconciliation of its own and declined. */
class SyncDeclinedError extends Error {
  override name = 'SyncDeclinedError'
}

function emptyAnswer(realm: string): SyncMessage {
  return { kind: SyncKind.ANSWER, realm, ranges: [], records: [], proofs: [], wanted: [] }
}

/** A session's proof numbering, one table per direction; none on a stream of the older protocol. */
interface ProofTables {
  sent?: SyncProofTable
  received?: SyncProofTable
}

function proofTables(stream: Stream): ProofTables {
  if (stream.protocol !== SYNC_PROTOCOL) return {}
  return { sent: new SyncProofTable(), received: new SyncProofTable() }
}
