import type { MergeOutcome, RecordProof, ReplicaStore } from '@tlsmesh/store'
import { decodeBatch, type RecordBatch, WireDecodeError, type WireLimits } from '@tlsmesh/wire'
import { GossipValidationError, type ValidationCode } from './errors.ts'
import type { MeshCounters } from './mesh-metrics.ts'
import type { RecordAuthenticator } from './record-auth.ts'

/** gossipsub's verdicts, as strings so this module does not load gossipsub. */
export type GossipVerdict = 'accept' | 'ignore' | 'reject'

export interface ReceivedMessage {
  /** Realm of the topic the message arrived on. */
  topicRealm: string
  /** Signer's peer id, or undefined for an unsigned message. */
  from: string | undefined
  data: Uint8Array
}

/** A batch whose origin's signature checked out, with the proof its records are stored with. */
export interface AuthenticatedBatch {
  realm: string
  origin: string
  batch: RecordBatch
  proof: RecordProof
  /** The batch's bytes as they came: what crosses to a replica on another thread. */
  data: Uint8Array
}

export interface BatchValidationContext {
  store: ReplicaStore
  limits: Partial<WireLimits>
  now: () => number
  counters: MeshCounters
  auth: RecordAuthenticator
  /** Whether records of this origin may be stored in this realm (the allowlist applies to signers). */
  originAllowed: (origin: string, realm: string) => boolean
  /** A record lost a contest its realm's rule decided (a ticket key for a period that has started). */
  onConflict?: (realm: string, origin: string) => void
}

/**
 * Record outcomes that prove the origin broke a hard limit, as opposed to lagging or racing. Not
 * `not-owner`: which of two origins claiming one id came first differs from node to node (an
 * attacker who saw a session id can plant its own record first), so it is refused and counted, and
 * nobody is punished for it.
 */
const REJECTED_OUTCOMES: ReadonlySet<MergeOutcome> = new Set<MergeOutcome>(['too-large', 'ttl-too-long'])

/**
 * Decodes a batch and checks that its origin signed it, as it is, for this realm. Throws
 * GossipValidationError: `reject` for what is provably bad (undecodable, wrong topic, unsigned, a
 * signature that is not the origin's), `ignore` for a wire version this build does not read.
 */
export function authenticateBatch(
  ctx: Pick<BatchValidationContext, 'auth' | 'limits' | 'counters'>,
  message: ReceivedMessage,
): AuthenticatedBatch {
  const origin = message.from
  if (origin === undefined) throw new GossipValidationError('reject', 'unsigned')
  let batch: RecordBatch
  try {
    batch = decodeBatch(message.data, ctx.limits)
  } catch (err) {
    if (err instanceof WireDecodeError) {
      // A newer version is most likely a peer ahead of us in a rolling upgrade, not a bad one.
      const action = err.code === 'unsupported-version' ? 'ignore' : 'reject'
      throw new GossipValidationError(action, err.code)
    }
    throw err
  }
  if (batch.realm !== message.topicRealm) throw new GossipValidationError('reject', 'wrong-topic')
  const proof = ctx.auth.verifyBatch(batch.realm, origin, batch.records, batch.signature)
  if (proof === undefined) {
    ctx.counters.countRecordRefusal('gossip', 'forged', batch.records.length)
    throw new GossipValidationError('reject', 'bad-signature')
  }
  return { realm: batch.realm, origin, batch, proof, data: message.data }
}

/**
 * Merges an authenticated batch's records into the replica. Throws GossipValidationError: `reject`
 * when its origin broke a hard limit; `ignore` when nothing in it is new (records claiming another
 * origin's id are refused), or its origin is outside the allowlist (its relay may not know the list).
 */
export function validateBatch(ctx: BatchValidationContext, authenticated: AuthenticatedBatch): number {
  const { realm, origin, batch, proof } = authenticated
  if (!ctx.originAllowed(origin, realm)) {
    ctx.counters.countRecordRefusal('gossip', 'origin-not-allowed', batch.records.length)
    throw new GossipValidationError('ignore', 'origin-not-allowed')
  }
  const now = ctx.now()
  let stored = 0
  let replaced = 0
  let rejected: MergeOutcome | undefined
  let fromFuture = false
  let notOwner = false
  for (const record of batch.records) {
    // Gossip batches carry no per-record origin: the signer is the origin, so nobody can claim
    // another node's records through gossip. One object shape for every record (no spread).
    const outcome = ctx.store.merge(
      {
        realm,
        id: record.id,
        value: record.value,
        created: record.created,
        expires: record.expires,
        origin,
        proof,
      },
      now,
      'gossip',
    )
    if (outcome === 'added' || outcome === 'replaced') {
      // Counted once per batch below: nearly every record of a batch is one of these.
      stored++
      if (outcome === 'replaced') replaced++
      continue
    }
    ctx.counters.countRecord(outcome)
    if (REJECTED_OUTCOMES.has(outcome)) {
      rejected ??= outcome
    } else if (outcome === 'not-owner' || outcome === 'over-quota') {
      ctx.counters.countRecordRefusal('gossip', outcome)
      notOwner ||= outcome === 'not-owner'
    } else if (outcome === 'conflict') {
      ctx.onConflict?.(realm, origin)
    } else if (outcome === 'from-future') {
      fromFuture = true
    }
  }
  if (stored > replaced) ctx.counters.countRecord('added', stored - replaced)
  if (replaced > 0) ctx.counters.countRecord('replaced', replaced)
  // A record over a hard limit condemns the batch even after a from-future one.
  if (rejected !== undefined) throw new GossipValidationError('reject', rejected as ValidationCode)
  if (stored === 0) {
    throw new GossipValidationError(
      'ignore',
      fromFuture ? 'from-future' : notOwner ? 'not-owner' : 'nothing-new',
    )
  }
  return stored
}

/**
 * The one place where validation results become gossipsub verdicts and are counted. Any unexpected
 * error is `ignore`: a bug of ours must never lower an honest peer's score.
 */
export function toVerdict(counters: MeshCounters, run: () => unknown): GossipVerdict {
  try {
    run()
    counters.accepted++
    return 'accept'
  } catch (err) {
    return refusalVerdict(counters, err)
  }
}

/** The verdict on a message whose validation threw `err`, counted by reason. */
export function refusalVerdict(counters: MeshCounters, err: unknown): 'ignore' | 'reject' {
  const code: ValidationCode = err instanceof GossipValidationError ? err.code : 'internal'
  const action = err instanceof GossipValidationError ? err.action : 'ignore'
  counters.countRefusal(code)
  if (action === 'reject') {
    counters.rejected++
    return 'reject'
  }
  counters.ignored++
  return 'ignore'
}
