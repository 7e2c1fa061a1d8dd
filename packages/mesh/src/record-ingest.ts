import type { MergeOutcome, ReplicaStore, SessionRecord } from '@tlsmesh/store'
import type { WireLimits } from '@tlsmesh/wire'
import type { Authentication } from './broadcast/broadcast-service.ts'
import type { DeliveryVerdict } from './broadcast/plumtree.ts'
import type { RecordRefusal } from './errors.ts'
import {
  type AuthenticatedBatch,
  authenticateBatch,
  type BatchValidationContext,
  type GossipVerdict,
  refusalVerdict,
  toVerdict,
  validateBatch,
} from './gossip-validation.ts'
import type { MeshMetrics } from './mesh-metrics.ts'
import type { MeshWarnings } from './mesh-warnings.ts'
import type { PeerPolicy } from './peer-policy.ts'
import { PropagationWindow } from './propagation-window.ts'
import type { RecordAuthenticator } from './record-auth.ts'

export interface RecordIngestComponents {
  store: ReplicaStore
  limits: Partial<WireLimits>
  now: () => number
  metrics: MeshMetrics
  auth: RecordAuthenticator
  policy: PeerPolicy
  warnings: MeshWarnings
  /** Called for each record stored from gossip (benchmarks measure propagation with it). */
  onRecordReceived?: (realm: string, id: Uint8Array, created: number, receivedAt: number) => void
}

/**
 * What the mesh's transport (libp2p's services: gossipsub, the tree, catch-up) asks of ingest. In one
 * thread, RecordIngest; with the replica on another thread, verdicts come back later (RemoteIngest).
 */
export interface TransportIngest {
  /** gossipsub's topic validator for `realm`: a message's bytes to a verdict. */
  gossipValidator(
    realm: string,
  ): (from: string | undefined, data: Uint8Array) => GossipVerdict | Promise<GossipVerdict>
  /** The broadcast tree's first check, made before a payload is relayed: is it its origin's? */
  authenticate(realm: string, origin: string, data: Uint8Array): Authentication
  /** The broadcast tree's delivery: an authenticated batch into the replica. */
  validate(batch: AuthenticatedBatch): DeliveryVerdict | Promise<DeliveryVerdict>
  /** Records catch-up refused before the replica saw them. */
  refused(reason: RecordRefusal, records: number): void
}

/** A payload's first check, counted: decoded, and signed by its origin as it is for this realm. */
export function authenticatePayload(
  ctx: Pick<BatchValidationContext, 'auth' | 'limits' | 'counters'>,
  realm: string,
  origin: string | undefined,
  data: Uint8Array,
): Authentication {
  ctx.counters.messagesReceived++
  ctx.counters.bytesReceived += data.byteLength
  try {
    return { batch: authenticateBatch(ctx, { topicRealm: realm, from: origin, data }) }
  } catch (err) {
    return { verdict: refusalVerdict(ctx.counters, err) }
  }
}

/**
 * Where records received from peers enter the replica, whichever way they came (gossipsub, the
 * broadcast tree, catch-up): each path's hooks authenticate, validate, store and count here, so the
 * counters, the propagation window and the warnings mean the same on every path.
 */
export class RecordIngest implements TransportIngest {
  /** How long gossiped records took from their origin to this replica. */
  readonly propagation = new PropagationWindow()
  readonly #components: RecordIngestComponents
  readonly #context: BatchValidationContext

  constructor(components: RecordIngestComponents) {
    this.#components = components
    const { store, limits, now, metrics, auth, policy, warnings } = components
    this.#context = {
      store,
      limits,
      now,
      counters: metrics.counters,
      auth,
      originAllowed: (origin, realm) => policy.originAllowed(origin, realm),
      onConflict: (realm, origin) => warnings.conflict(realm, origin),
    }
  }

  /** Follows the records gossip stores (propagation, clock skew); returns what stops it. */
  start(): () => void {
    return this.#components.store.watch({
      stored: (record, source) => {
        if (source === 'gossip') this.#stored(record)
      },
      removed: () => {},
    })
  }

  gossipValidator(realm: string): (from: string | undefined, data: Uint8Array) => GossipVerdict {
    return (from, data) => {
      const { batch, verdict } = authenticatePayload(this.#context, realm, from, data)
      return batch !== undefined ? this.validate(batch) : verdict
    }
  }

  authenticate(realm: string, origin: string, data: Uint8Array): Authentication {
    return authenticatePayload(this.#context, realm, origin, data)
  }

  /** The broadcast tree's delivery: an authenticated batch into the replica. */
  validate(batch: AuthenticatedBatch): DeliveryVerdict {
    return toVerdict(this.#components.metrics.counters, () => validateBatch(this.#context, batch))
  }

  /** What catch-up's replica merge did with a record. */
  merged(outcome: MergeOutcome, record: SessionRecord): void {
    this.#components.metrics.counters.countRecord(outcome)
    if (outcome === 'conflict') this.#components.warnings.conflict(record.realm, record.origin)
  }

  /** Records catch-up refused before the replica saw them. */
  refused(reason: RecordRefusal, records: number): void {
    this.#components.metrics.counters.countRecordRefusal('sync', reason, records)
  }

  #stored(record: SessionRecord): void {
    const { metrics, store, warnings, onRecordReceived, now } = this.#components
    const at = now()
    const ageMs = at - record.created
    this.propagation.add(ageMs)
    metrics.propagationSeconds.observe(Math.max(0, ageMs) / 1000)
    if (ageMs > store.limits.maxClockSkewMs) {
      metrics.counters.clockSkewSuspected++
      warnings.clockSkew(ageMs, store.limits.maxClockSkewMs)
    }
    // A stored record's id is a copy made on each read: made only for a caller that asked.
    onRecordReceived?.(record.realm, record.id, record.created, at)
  }
}
