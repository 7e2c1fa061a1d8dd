import type { MergeOutcome, ReplicaStore, SessionRecord } from '@tlsmesh/store'
import { SyncKind, type SyncMessage, SyncProofTable } from '@tlsmesh/wire'
import { type RecordRefusal, SyncPeerMisbehavedError } from '../errors.ts'
import type { IncrementalDigest } from './incremental-digest.ts'
import { answerPackedQuery } from './packed-answer.ts'
import type { PackedRanges } from './packed-sync-message.ts'
import type { RealmDigests } from './realm-digests.ts'
import {
  answerQueryInSlices,
  answerRecordsInSlices,
  ListedRanges,
  type ReconciliationResult,
  type ReconciliationSide,
  reconcile,
} from './set-reconciliation.ts'
import { syncKeyOf } from './sync-keys.ts'
import { TimeSlice } from './time-slice.ts'

/**
 * Only records at least this old count as learnt: younger ones are most likely still on their way
 * down the broadcast tree, and under steady publishing every reconciliation would start a chain.
 */
export const SPREAD_MIN_AGE_MS = 1000

export interface SyncReplicaComponents {
  store: ReplicaStore
  /** The served realms' digests, kept up to date with `store`. */
  digests: RealmDigests
  now: () => number
  /** Whether records of this origin may be stored (the allowlist applies to signers). */
  originAllowed: (origin: string, realm: string) => boolean
  /** Counts what the replica did with each record received through sync. */
  onMerged?: (outcome: MergeOutcome, record: SessionRecord) => void
  /** Counts records refused. */
  onRefused?: (reason: RecordRefusal, records: number) => void
  /**
   * Answer a query in turns of at most this many ms (default ANSWER_SLICE_MS): on the server's thread,
   * a get waits for whatever turn is running when it comes.
   */
  answerSliceMs?: number
}

/**
 * A query's answer, and a page of records, is made in turns of this long at most. A get that comes
 * during a turn waits for it: a get p99 within 1.5x of its idle value (0.35-0.45 ms here) needs the
 * server's thread in turns under about 0.2 ms, or busy under 1% of the time (BENCHMARKS 4c).
 */
export const ANSWER_SLICE_MS = 0.1

/** What a session taught this node: records SPREAD_MIN_AGE_MS old or more (learnt), and younger. */
export interface SessionTally {
  learnt: number
  young: number
}

/** A sync message's exchange with the peer: sends it, resolves with the peer's answer to it. */
export type SyncExchange = (message: SyncMessage) => Promise<SyncMessage>

/**
 * Sync's replica side: the realms' digests, the answers to a peer's queries and record requests, the
 * initiator's search for what differs, and the merge of what came. What it takes from the transport
 * (SyncService) is authenticated already: every record of a RECORDS message is covered by its proof,
 * which is the checked copy (`RecordAuthenticator.checkProof`). It reads no stream, no codec and no
 * key, so that it can run on another thread than the one holding the mesh's connections.
 */
export class SyncReplica implements SyncReplicaSessions {
  readonly #components: SyncReplicaComponents

  constructor(components: SyncReplicaComponents) {
    this.#components = components
  }

  /**
   * The replica side of one session, in either role. `numbersProofs`: whether the session sends a
   * proof in full once and by number after (sync 3), which makes a page's numbered proofs small.
   */
  session(numbersProofs = false): LocalReplicaSession {
    return new ReplicaSession(this.#components, numbersProofs ? new SyncProofTable() : undefined)
  }
}

/** Where the transport opens sessions' replica sides: a SyncReplica, or one behind a port (replica-port.ts). */
export interface SyncReplicaSessions {
  session(numbersProofs?: boolean): SyncReplicaSession
}

/** The replica side of one sync session, as the transport sees it (SyncReplica's, or one behind a port). */
export interface SyncReplicaSession {
  /** The initiator: reconciles every realm in turn with the peer behind `exchange`. */
  reconcile(realms: Iterable<string>, exchange: SyncExchange): Promise<ReconciliationResult>
  /**
   * The responder: answers a QUERY or a RECORDS message of a realm this node serves. Throws on any
   * other kind, and on a page with a record it did not ask for (SyncPeerMisbehavedError).
   */
  answer(message: SyncMessage): Promise<SyncMessage>
  /** Ends the session (whatever became of it): what it taught this node. */
  close(): Promise<SessionTally>
}

/** A session on the replica's own thread, which also answers a query as it crossed from another. */
export interface LocalReplicaSession extends SyncReplicaSession {
  /**
   * `answer` for a QUERY of `realm` packed as it crossed (packed-sync-message.ts): the same answer,
   * packed, without a range or item made an object on this thread (packed-answer.ts).
   */
  answerPackedQuery(realm: string, ranges: PackedRanges): Promise<PackedRanges>
}

/** A realm's side of a session, its digest as the replica's live one. */
interface LiveSide extends ReconciliationSide {
  digest: IncrementalDigest
}

class ReplicaSession implements LocalReplicaSession {
  readonly #tally: SessionTally = { learnt: 0, young: 0 }
  readonly #components: SyncReplicaComponents
  /** The proofs this session's pages carried in full (`RecordPage`), when the session numbers them. */
  readonly #paged: SyncProofTable | undefined
  /** The responder's side of each realm reconciled, with the ranges it listed. */
  readonly #sides = new Map<string, LiveSide>()

  constructor(components: SyncReplicaComponents, paged: SyncProofTable | undefined) {
    this.#components = components
    this.#paged = paged
  }

  async close(): Promise<SessionTally> {
    this.#sides.clear()
    return { ...this.#tally }
  }

  async reconcile(realms: Iterable<string>, exchange: SyncExchange): Promise<ReconciliationResult> {
    const total = { rounds: 0, pushed: 0, pulled: 0, differingRanges: 0 }
    for (const realm of realms) {
      const result = await reconcile(await this.#side(realm), exchange)
      total.rounds += result.rounds
      total.pushed += result.pushed
      total.pulled += result.pulled
      total.differingRanges += result.differingRanges
    }
    return total
  }

  async answer(message: SyncMessage): Promise<SyncMessage> {
    const respond = RESPONDER[message.kind]
    if (respond === undefined) throw new Error(`unexpected sync message ${message.kind}`)
    const startsOver = message.kind === SyncKind.QUERY && message.ranges[0]?.depth === 0
    return respond(await this.#responder(message.realm, startsOver), message, this.#answerSlice())
  }

  async answerPackedQuery(realm: string, ranges: PackedRanges): Promise<PackedRanges> {
    const side = await this.#responder(realm, ranges.depths[0] === 0)
    return answerPackedQuery(side.digest, ranges, side.listed, this.#answerSlice())
  }

  /** The responder's side of `realm`; a query of the whole realm starts it over (the initiator's new round). */
  async #responder(realm: string, startsOver: boolean): Promise<LiveSide> {
    let side = this.#sides.get(realm)
    if (side === undefined || startsOver) {
      side = await this.#side(realm, new ListedRanges())
      this.#sides.set(realm, side)
    }
    return side
  }

  #answerSlice(): TimeSlice {
    // A step is a range or a key's records, a microsecond or a few: the clock is read every 8.
    return new TimeSlice(this.#components.answerSliceMs ?? ANSWER_SLICE_MS, undefined, 8)
  }

  async #side(realm: string, listed?: ListedRanges): Promise<LiveSide> {
    // The realm's live digest: nothing to build, and it follows the replica through the session.
    const digest = await this.#components.digests.of(realm)
    return {
      realm,
      digest,
      receive: (message, requested) => this.#receive(realm, message, requested),
      ...(listed !== undefined ? { listed } : {}),
      ...(this.#paged !== undefined ? { paged: this.#paged } : {}),
    }
  }

  /**
   * The one way sync stores records: each must be one this side asked for (else none of the page is
   * stored, and the session ends as the peer's misbehaviour), of an allowed origin (else left out and
   * counted), and neither claim another origin's record nor go over its origin's fair share of a full
   * realm (the replica's merge). Counts in `tally` the records it stored, by age.
   */
  #receive(realm: string, message: SyncMessage, requested: (key: bigint) => boolean): void {
    const { store, now, originAllowed, onMerged, onRefused } = this.#components
    for (const record of message.records) {
      if (!requested(syncKeyOf(record.id))) {
        onRefused?.('unrequested', message.records.length)
        throw new SyncPeerMisbehavedError('unrequested')
      }
    }
    const at = now()
    for (const record of message.records) {
      if (!originAllowed(record.origin, realm)) {
        onRefused?.('origin-not-allowed', 1)
        continue
      }
      const stored: SessionRecord = {
        realm,
        id: record.id,
        created: record.created,
        expires: record.expires,
        origin: record.origin,
        proof: message.proofs[record.proof]!,
      }
      if (record.value !== undefined) stored.value = record.value
      const outcome = store.merge(stored, at, 'sync')
      onMerged?.(outcome, stored)
      if (outcome === 'added' || outcome === 'replaced') {
        if (at - stored.created >= SPREAD_MIN_AGE_MS) this.#tally.learnt++
        else this.#tally.young++
      }
      if (outcome === 'not-owner' || outcome === 'over-quota') onRefused?.(outcome, 1)
    }
  }
}

/**
 * How a responder answers each kind of message within a session (DONE ends it before this is
 * read); undefined: a kind only a responder sends, which ends the session as misbehaviour.
 */
const RESPONDER: Record<
  SyncKind,
  | ((side: ReconciliationSide, message: SyncMessage, slice: TimeSlice) => SyncMessage | Promise<SyncMessage>)
  | undefined
> = {
  [SyncKind.QUERY]: answerQueryInSlices,
  [SyncKind.RECORDS]: answerRecordsInSlices,
  [SyncKind.ANSWER]: undefined,
  [SyncKind.DONE]: undefined,
  [SyncKind.SYNC_KIND_UNSPECIFIED]: undefined,
}
