import type { MergeOutcome, ReplicaStore } from '@tlsmesh/store'
import { decodeBatch, WireDecodeError, type WireLimits } from '@tlsmesh/wire'
import { GossipValidationError, type ValidationCode } from './errors.ts'
import type { MeshCounters } from './mesh-metrics.ts'

/** gossipsub's verdicts, as strings so this module does not load gossipsub. */
export type GossipVerdict = 'accept' | 'ignore' | 'reject'

export interface ReceivedMessage {
  /** Realm of the topic the message arrived on. */
  topicRealm: string
  /** Signer's peer id, or undefined for an unsigned message. */
  from: string | undefined
  data: Uint8Array
}

export interface BatchValidationContext {
  store: ReplicaStore
  limits: Partial<WireLimits>
  now: () => number
  counters: MeshCounters
  onRecordStored?: (created: number, now: number, id: Uint8Array, realm: string) => void
}

/** Record outcomes that prove the sender broke a hard limit, as opposed to lagging or racing. */
const REJECTED_OUTCOMES: ReadonlySet<MergeOutcome> = new Set<MergeOutcome>(['too-large', 'ttl-too-long'])

/**
 * Decodes a batch and merges its records into the replica. Throws GossipValidationError:
 * `reject` for what is provably bad (undecodable, over a hard limit, wrong topic, unsigned);
 * `ignore` when nothing in it is new or it has a wire version this build does not read (no
 * forwarding, no penalty).
 */
export function validateBatch(ctx: BatchValidationContext, message: ReceivedMessage): number {
  if (message.from === undefined) throw new GossipValidationError('reject', 'unsigned')
  let batch: ReturnType<typeof decodeBatch>
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

  const now = ctx.now()
  let stored = 0
  let rejected: MergeOutcome | undefined
  let fromFuture = false
  for (const record of batch.records) {
    // Gossip batches carry no per-record origin: the signer is the origin, so nobody can claim
    // another node's records through gossip.
    const outcome = ctx.store.merge({ ...record, realm: batch.realm, origin: message.from }, now)
    ctx.counters.countRecord(outcome)
    if (outcome === 'added' || outcome === 'replaced') {
      stored++
      ctx.onRecordStored?.(record.created, now, record.id, batch.realm)
    } else if (REJECTED_OUTCOMES.has(outcome)) {
      rejected ??= outcome
    } else if (outcome === 'from-future') {
      fromFuture = true
    }
  }
  // A record over a hard limit condemns the batch even after a from-future one.
  if (rejected !== undefined) throw new GossipValidationError('reject', rejected as ValidationCode)
  if (stored === 0) throw new GossipValidationError('ignore', fromFuture ? 'from-future' : 'nothing-new')
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
}
