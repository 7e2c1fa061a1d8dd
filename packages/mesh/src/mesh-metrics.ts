import type { MergeOutcome } from '@tlsmesh/store'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { ValidationCode } from './errors.ts'

/**
 * Plain integers on the hot path; prom-client reads them only when /metrics is scraped, and
 * `status()` reads them directly (prom-client's getters are async).
 */
export class MeshCounters {
  recordsPublished = 0
  messagesPublished = 0
  bytesPublished = 0
  publishErrors = 0
  /** Published while no peer was subscribed: nobody got it (catch-up heals it later). */
  publishedToNobody = 0
  /**
   * Records that arrived by gossip more than the clock-skew window after they were created: gossip
   * takes milliseconds, so this node's clock (or the origin's) is off.
   */
  clockSkewSuspected = 0
  messagesReceived = 0
  bytesReceived = 0
  accepted = 0
  ignored = 0
  rejected = 0
  readonly recordsReceived = new Map<MergeOutcome, number>()
  readonly refused = new Map<ValidationCode, number>()

  countRecord(outcome: MergeOutcome): void {
    this.recordsReceived.set(outcome, (this.recordsReceived.get(outcome) ?? 0) + 1)
  }

  countRefusal(code: ValidationCode): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1)
  }

  get recordsStored(): number {
    return (this.recordsReceived.get('added') ?? 0) + (this.recordsReceived.get('replaced') ?? 0)
  }
}

export interface MeshMetrics {
  counters: MeshCounters
  propagationSeconds: Histogram
}

export function createMeshMetrics(
  registry: Registry,
  gauges: { peers: () => number; replicaEntries: () => number; replicaBytes: () => number },
): MeshMetrics {
  const counters = new MeshCounters()
  const registers = [registry]
  const simple = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  }
  simple(
    'tlsmesh_mesh_records_published_total',
    'Records this node published',
    () => counters.recordsPublished,
  )
  simple(
    'tlsmesh_mesh_messages_published_total',
    'Gossip messages (batches) this node published',
    () => counters.messagesPublished,
  )
  simple(
    'tlsmesh_mesh_published_bytes_total',
    'Payload bytes of the batches this node published',
    () => counters.bytesPublished,
  )
  simple('tlsmesh_mesh_publish_errors_total', 'Publishes that failed', () => counters.publishErrors)
  simple(
    'tlsmesh_mesh_published_to_nobody_total',
    'Batches published while no peer was subscribed to the realm',
    () => counters.publishedToNobody,
  )
  simple(
    'tlsmesh_mesh_clock_skew_suspected_total',
    "Gossip records older on arrival than the clock-skew window (this node's or the origin's clock is off)",
    () => counters.clockSkewSuspected,
  )
  simple(
    'tlsmesh_mesh_received_bytes_total',
    'Payload bytes of gossip messages received',
    () => counters.bytesReceived,
  )
  new Counter({
    name: 'tlsmesh_mesh_messages_validated_total',
    help: 'Gossip messages received, by validation result',
    labelNames: ['result'],
    registers,
    collect() {
      this.reset()
      this.inc({ result: 'accept' }, counters.accepted)
      this.inc({ result: 'ignore' }, counters.ignored)
      this.inc({ result: 'reject' }, counters.rejected)
    },
  })
  new Counter({
    name: 'tlsmesh_mesh_messages_refused_total',
    help: 'Gossip messages ignored or rejected, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      for (const [reason, n] of counters.refused) this.inc({ reason }, n)
    },
  })
  new Counter({
    name: 'tlsmesh_mesh_records_received_total',
    help: 'Records received from peers, by what the replica did with them',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset()
      for (const [outcome, n] of counters.recordsReceived) this.inc({ outcome }, n)
    },
  })
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read())
      },
    })
  }
  gauge('tlsmesh_mesh_peers', 'Connected peers', gauges.peers)
  gauge('tlsmesh_replica_entries', 'Records held in the local replica (all realms)', gauges.replicaEntries)
  gauge('tlsmesh_replica_bytes', 'Bytes accounted in the local replica (all realms)', gauges.replicaBytes)
  const propagationSeconds = new Histogram({
    name: 'tlsmesh_mesh_propagation_seconds',
    help: "Receipt time minus the record's created time (includes clock skew between nodes)",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  return { counters, propagationSeconds }
}
