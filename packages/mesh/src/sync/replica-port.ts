import { SyncKind, type SyncLimits, type SyncMessage, SyncProofTable } from '@tlsmesh/wire'
import { SyncPeerMisbehavedError } from '../errors.ts'
import type { ThreadPort } from '../thread/thread-port.ts'
import {
  type PackedSyncMessage,
  packSyncMessage,
  transferList,
  unpackSyncMessage,
} from './packed-sync-message.ts'
import type { ReconciliationResult } from './set-reconciliation.ts'
import type { LocalReplicaSession, SessionTally, SyncExchange, SyncReplicaSession } from './sync-replica.ts'
import { TurnQueue } from './time-slice.ts'

/** What ended a call on the other thread, in a form that crosses. */
type Failure =
  | { misbehaved: SyncPeerMisbehavedError['code'] }
  /** The transport's exchange failed: the reconciliation ends with that exchange's own error. */
  | { exchange: number }
  | { message: string }

type ToReplica =
  | { op: 'open'; session: number; numbersProofs: boolean }
  | { op: 'answer'; session: number; call: number; message: PackedSyncMessage }
  | { op: 'reconcile'; session: number; call: number; realms: string[] }
  | { op: 'exchanged'; session: number; exchange: number; message: PackedSyncMessage }
  | { op: 'exchange-failed'; session: number; exchange: number }
  | { op: 'close'; session: number; call: number }

type ToTransport =
  | { op: 'reply'; session: number; call: number; message?: PackedSyncMessage; value?: unknown }
  | { op: 'fail'; session: number; call: number; failure: Failure }
  | { op: 'exchange'; session: number; exchange: number; message: PackedSyncMessage }

/** Each session numbers the proofs of each direction, as the wire does within a sync session. */
interface ProofTables {
  sent: SyncProofTable
  received: SyncProofTable
}

/** A reconciliation failed on the transport's side, in the exchange numbered `exchange`. */
class ExchangeFailedError extends Error {
  readonly exchange: number
  constructor(exchange: number) {
    super('the exchange with the peer failed')
    this.exchange = exchange
  }
}

/** Sessions on the replica's own thread (a SyncReplica). */
export interface LocalReplicaSessions {
  session(numbersProofs?: boolean): LocalReplicaSession
}

/**
 * Serves `replica`'s sessions to a transport on another thread (SyncReplicaClient at the port's
 * other end). Messages cross packed (packed-sync-message.ts), and each is taken on a turn of its own,
 * in order, as the transport takes a peer's (a page costs 0.1-0.5 ms to make or store, and an
 * initiator has up to 8 in flight). Returns what stops serving.
 */
export function serveSyncReplica(
  replica: LocalReplicaSessions,
  port: ThreadPort,
  limits: Readonly<SyncLimits>,
): () => void {
  const sessions = new Map<
    number,
    { replica: LocalReplicaSession; proofs: ProofTables; exchanges: Map<number, PendingExchange> }
  >()
  let nextExchange = 0
  const post = (message: ToTransport): void => {
    port.postMessage(message, 'message' in message && message.message ? transferList(message.message) : [])
  }
  const settle = (session: number, call: number, work: Promise<ToTransport>): void => {
    work.then(post, (err: unknown) => post({ op: 'fail', session, call, failure: failureOf(err) }))
  }
  /** Throws nothing: each call's failure goes back to the transport. */
  const take = (message: ToReplica): void => {
    if (message.op === 'open') {
      sessions.set(message.session, {
        replica: replica.session(message.numbersProofs),
        proofs: { sent: new SyncProofTable(), received: new SyncProofTable() },
        exchanges: new Map(),
      })
      return
    }
    const session = sessions.get(message.session)
    if (session === undefined) return
    const { proofs } = session
    const id = message.session
    switch (message.op) {
      case 'answer': {
        const reply = answerPacked(session.replica, message.message, proofs, limits).then(
          (answer): ToTransport => ({ op: 'reply', session: id, call: message.call, message: answer }),
        )
        settle(id, message.call, reply)
        return
      }
      case 'reconcile': {
        const exchange: SyncExchange = (request) =>
          new Promise<SyncMessage>((resolve, reject) => {
            const number = nextExchange++
            session.exchanges.set(number, { resolve, reject })
            post({
              op: 'exchange',
              session: id,
              exchange: number,
              message: packSyncMessage(request, proofs.sent),
            })
          })
        const done = session.replica
          .reconcile(message.realms, exchange)
          .then((value): ToTransport => ({ op: 'reply', session: id, call: message.call, value }))
        settle(id, message.call, done)
        return
      }
      case 'exchanged':
      case 'exchange-failed': {
        const pending = session.exchanges.get(message.exchange)
        session.exchanges.delete(message.exchange)
        if (message.op === 'exchange-failed') pending?.reject(new ExchangeFailedError(message.exchange))
        else {
          try {
            pending?.resolve(unpackSyncMessage(message.message, proofs.received, limits))
          } catch (err) {
            pending?.reject(err as Error)
          }
        }
        return
      }
      case 'close': {
        sessions.delete(id)
        const closed = session.replica
          .close()
          .then((value): ToTransport => ({ op: 'reply', session: id, call: message.call, value }))
        settle(id, message.call, closed)
        return
      }
    }
  }
  const turns = new TurnQueue()
  let serving = true
  const onMessage = (message: ToReplica): void => {
    turns.next().then(() => serving && take(message))
  }
  port.on('message', onMessage)
  return () => {
    serving = false
    port.off('message', onMessage)
  }
}

/** A query is answered as it came, packed; anything else as objects. */
async function answerPacked(
  replica: LocalReplicaSession,
  packed: PackedSyncMessage,
  proofs: ProofTables,
  limits: Readonly<SyncLimits>,
): Promise<PackedSyncMessage> {
  if (packed.kind === SyncKind.QUERY && packed.ranges !== undefined) {
    const ranges = await replica.answerPackedQuery(packed.realm, packed.ranges)
    return { kind: SyncKind.ANSWER, realm: packed.realm, ranges, wanted: undefined, page: undefined }
  }
  const answer = await replica.answer(unpackSyncMessage(packed, proofs.received, limits))
  return packSyncMessage(answer, proofs.sent)
}

interface PendingExchange {
  resolve(message: SyncMessage): void
  reject(err: Error): void
}

function failureOf(err: unknown): Failure {
  if (err instanceof SyncPeerMisbehavedError) return { misbehaved: err.code }
  if (err instanceof ExchangeFailedError) return { exchange: err.exchange }
  return { message: err instanceof Error ? err.message : String(err) }
}

/**
 * Sync's replica side as a transport on another thread sees it: each session's calls go through
 * `port` to serveSyncReplica, and come back as the replica answered them (a refusal as the same
 * SyncPeerMisbehavedError, a failed exchange as that exchange's own error).
 */
export class SyncReplicaClient {
  readonly #port: ThreadPort
  readonly #limits: Readonly<SyncLimits>
  readonly #sessions = new Map<number, RemoteSession>()
  #nextSession = 0

  constructor(port: ThreadPort, limits: Readonly<SyncLimits>) {
    this.#port = port
    this.#limits = limits
    port.on('message', (message: ToTransport) => this.#sessions.get(message.session)?.receive(message))
  }

  session(numbersProofs = false): SyncReplicaSession {
    const id = this.#nextSession++
    const session = new RemoteSession(id, this.#port, this.#limits, () => this.#sessions.delete(id))
    this.#sessions.set(id, session)
    this.#port.postMessage({ op: 'open', session: id, numbersProofs } satisfies ToReplica)
    return session
  }
}

class RemoteSession implements SyncReplicaSession {
  readonly #id: number
  readonly #port: ThreadPort
  readonly #limits: Readonly<SyncLimits>
  readonly #forget: () => void
  readonly #proofs: ProofTables = { sent: new SyncProofTable(), received: new SyncProofTable() }
  readonly #calls = new Map<number, { resolve(reply: ToTransport): void; reject(err: Error): void }>()
  /** The errors of this side's failed exchanges, by number, for the reconciliation to end with. */
  readonly #exchangeErrors = new Map<number, unknown>()
  #exchange: SyncExchange | undefined
  #nextCall = 0
  #closed: Promise<SessionTally> | undefined

  constructor(id: number, port: ThreadPort, limits: Readonly<SyncLimits>, forget: () => void) {
    this.#id = id
    this.#port = port
    this.#limits = limits
    this.#forget = forget
  }

  async reconcile(realms: Iterable<string>, exchange: SyncExchange): Promise<ReconciliationResult> {
    this.#exchange = exchange
    const reply = await this.#call((call) => ({
      op: 'reconcile',
      session: this.#id,
      call,
      realms: [...realms],
    }))
    return reply.value as ReconciliationResult
  }

  async answer(message: SyncMessage): Promise<SyncMessage> {
    const packed = packSyncMessage(message, this.#proofs.sent)
    const reply = await this.#call((call) => ({ op: 'answer', session: this.#id, call, message: packed }))
    return unpackSyncMessage(reply.message!, this.#proofs.received, this.#limits)
  }

  close(): Promise<SessionTally> {
    this.#closed ??= this.#call((call) => ({ op: 'close', session: this.#id, call })).then(
      (reply) => reply.value as SessionTally,
      () => ({ learnt: 0, young: 0 }),
    )
    return this.#closed.finally(this.#forget)
  }

  receive(message: ToTransport): void {
    if (message.op === 'exchange') {
      this.#runExchange(message.exchange, message.message)
      return
    }
    const call = this.#calls.get(message.call)
    this.#calls.delete(message.call)
    if (message.op === 'reply') call?.resolve(message)
    else call?.reject(this.#errorOf(message.failure))
  }

  #call(make: (call: number) => ToReplica): Promise<ToTransport & { op: 'reply' }> {
    const call = this.#nextCall++
    const request = make(call)
    return new Promise((resolve, reject) => {
      this.#calls.set(call, { resolve: resolve as (reply: ToTransport) => void, reject })
      this.#port.postMessage(request, request.op === 'answer' ? transferList(request.message) : [])
    })
  }

  /** The replica's request to the peer, sent in the order it came; its reply goes back in order too. */
  #runExchange(number: number, packed: PackedSyncMessage): void {
    const request = unpackSyncMessage(packed, this.#proofs.received, this.#limits)
    const exchange = this.#exchange
    const reply = exchange !== undefined ? exchange(request) : Promise.reject(new Error('no reconciliation'))
    reply.then(
      (answer) => {
        const message = packSyncMessage(answer, this.#proofs.sent)
        const back: ToReplica = { op: 'exchanged', session: this.#id, exchange: number, message }
        this.#port.postMessage(back, transferList(message))
      },
      (err: unknown) => {
        this.#exchangeErrors.set(number, err)
        this.#port.postMessage({
          op: 'exchange-failed',
          session: this.#id,
          exchange: number,
        } satisfies ToReplica)
      },
    )
  }

  #errorOf(failure: Failure): Error {
    if ('misbehaved' in failure) return new SyncPeerMisbehavedError(failure.misbehaved)
    if ('exchange' in failure) {
      const err = this.#exchangeErrors.get(failure.exchange)
      if (err instanceof Error) return err
    }
    return new Error('message' in failure ? failure.message : 'the exchange with the peer failed')
  }
}
