import type { MergeOutcome } from '@tlsmesh/store'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { BroadcastStats } from './broadcast/broadcast-stats.ts'
import type { RecordPath, RecordRefusal, ValidationCode } from './errors.ts'

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
  /** Records refused by authentication, ownership or bounds, by path and reason. */
  readonly recordRefusals = new Map<`${RecordPath}:${RecordRefusal}`, number>()

  countRecord(outcome: MergeOutcome, n = 1): void {
    this.recordsReceived.set(outcome, (this.recordsReceived.get(outcome) ?? 0) + n)
  }

  countRecordRefusal(path: RecordPath, reason: RecordRefusal, n = 1): void {
    const key = `${path}:${reason}` as const
    this.recordRefusals.set(key, (this.recordRefusals.get(key) ?? 0) + n)
  }

  countRefusal(code: ValidationCode): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1)
  }

  get recordsStored(): number {
    return (this.recordsReceived.get('added') ?? 0) + (this.recordsReceived.get('replaced') ?? 0)
  }

  /** The counts as plain data, to cross to another thread. */
  snapshot(): CountersSnapshot {
    const { recordsReceived, refused, recordRefusals, ...numbers } = this
    return {
      numbers: { ...numbers },
      recordsReceived: [...recordsReceived],
      refused: [...refused],
      recordRefusals: [...recordRefusals],
    }
  }

  /**
   * These counts plus another thread's (a mesh split across threads counts on both), written into
   * `sum` (whose counts are replaced).
   */
  plus(other: CountersSnapshot, sum = new MeshCounters()): MeshCounters {
    for (const counts of [sum.recordsReceived, sum.refused, sum.recordRefusals]) counts.clear()
    const numbers = this.snapshot().numbers
    for (const name of Object.keys(numbers) as Array<keyof typeof numbers>) {
      sum[name] = numbers[name] + (other.numbers[name] ?? 0)
    }
    for (const [from, into] of [
      [[...this.recordsReceived, ...other.recordsReceived], sum.recordsReceived],
      [[...this.refused, ...other.refused], sum.refused],
      [[...this.recordRefusals, ...other.recordRefusals], sum.recordRefusals],
    ] as const) {
      const counts = into as Map<string, number>
      for (const [key, n] of from as Array<[string, number]>) counts.set(key, (counts.get(key) ?? 0) + n)
    }
    return sum
  }
}

type CounterNumbers = {
  -readonly [K in keyof MeshCounters as MeshCounters[K] extends number ? K : never]: number
}

export interface CountersSnapshot {
  numbers: Omit<CounterNumbers, 'recordsStored'>
  recordsReceived: Array<[MergeOutcome, number]>
  refused: Array<[ValidationCode, number]>
  recordRefusals: Array<[`${RecordPath}:${RecordRefusal}`, number]>
}

export interface MeshMetrics {
  counters: MeshCounters
  propagationSeconds: Histogram
}

/**
 * The mesh's counters in `registry`, read when scraped. `refresh` writes them first, for a node that
 * sums its counts from more than one place (a transport on its own thread counts there too).
 */
export function createMeshMetrics(
  registry: Registry,
  refresh?: (counters: MeshCounters) => void,
): MeshMetrics {
  const counters = new MeshCounters()
  const registers = [registry]
  const simple = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        refresh?.(counters)
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
      refresh?.(counters)
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
      refresh?.(counters)
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
      refresh?.(counters)
      this.reset()
      for (const [outcome, n] of counters.recordsReceived) this.inc({ outcome }, n)
    },
  })
  new Counter({
    name: 'tlsmesh_mesh_records_refused_total',
    help: 'Records from peers refused by authentication, ownership or bounds (forged, not-owner, unrequested, origin-not-allowed, over-quota), by path',
    labelNames: ['path', 'reason'],
    registers,
    collect() {
      refresh?.(counters)
      this.reset()
      for (const [key, n] of counters.recordRefusals) {
        const [path, reason] = key.split(':')
        this.inc({ path, reason }, n)
      }
    },
  })
  const propagationSeconds = new Histogram({
    name: 'tlsmesh_mesh_propagation_seconds',
    help: "Receipt time minus the record's created time (includes clock skew between nodes)",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  return { counters, propagationSeconds }
}

export interface MeshGauges {
  peers: () => number
  replicaEntries: () => number
  replicaBytes: () => number
}

/** Gauges read from the node and its replica when scraped. */
export function registerMeshGauges(registry: Registry, gauges: MeshGauges): void {
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read())
      },
    })
  }
  gauge('tlsmesh_mesh_peers', 'Connected peers', gauges.peers)
  gauge('tlsmesh_replica_entries', 'Records held in the local replica (all realms)', gauges.replicaEntries)
  gauge('tlsmesh_replica_bytes', 'Bytes accounted in the local replica (all realms)', gauges.replicaBytes)
}

/** The broadcast tree's counters and per-realm degrees, read from its stats when scraped. */
export function registerBroadcastMetrics(registry: Registry, read: () => BroadcastStats): void {
  const registers = [registry]
  const counters: Array<[string, string, (s: BroadcastStats) => number]> = [
    [
      'payloads_sent',
      'Batch payloads sent down the tree (own, relayed and answering GRAFTs)',
      (s) => s.payloadsSent,
    ],
    ['payloads_received', 'Batch payloads received for the first time', (s) => s.payloadsReceived],
    [
      'relays_before_arrival',
      'Relays the first copy of each received payload came through; over payloads_received, the mean tree depth',
      (s) => s.relaysBeforeArrival,
    ],
    [
      'payloads_spared',
      'Payload copies not sent down an eager link because the neighbour had announced the batch',
      (s) => s.payloadsSpared,
    ],
    ['duplicates', 'Batch payloads received again (each costs bytes and a decode)', (s) => s.duplicates],
    [
      'ids_announced',
      'Batch ids sent to lazy neighbours (IHAVE), counted per neighbour',
      (s) => s.idsAnnounced,
    ],
    [
      'grafts_sent',
      'Payloads asked for after an announcement came without them (tree repairs)',
      (s) => s.graftsSent,
    ],
    [
      'graft_misses',
      'GRAFTs this node could not answer: the payload had left its cache',
      (s) => s.graftMisses,
    ],
    ['prunes_sent', 'Links made lazy because they brought duplicates', (s) => s.prunesSent],
    [
      'missing_abandoned',
      'Announced batches no neighbour delivered: left to anti-entropy',
      (s) => s.missingAbandoned,
    ],
    [
      'frames_dropped',
      "Frames dropped because a neighbour's send queue was full (healed by GRAFT or anti-entropy)",
      (s) => s.framesDropped,
    ],
    [
      'announcements_dropped',
      'Announced ids not awaited: too many were awaited already',
      (s) => s.announcementsDropped,
    ],
    [
      'grafts_declined',
      'GRAFTs answered but not made tree links: this node had its maximum of eager links',
      (s) => s.graftsDeclined,
    ],
    ['links_shed', 'Tree links made lazy because this node had more than its maximum', (s) => s.linksShed],
    [
      'graft_ids_refused',
      'GRAFTed ids not answered: one GRAFT asked for more than a repair does',
      (s) => s.graftIdsRefused,
    ],
    ['bad_frames', 'Undecodable frames received', (s) => s.badFrames],
    ['bad_signatures', 'Payloads whose origin signature did not verify', (s) => s.badSignatures],
    ['links_reopened', 'Tree links reopened on a surviving connection', (s) => s.linksReopened],
  ]
  for (const [name, help, pick] of counters) {
    new Counter({
      name: `tlsmesh_tree_${name}_total`,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(pick(read()))
      },
    })
  }
  const perRealm: Array<[string, string, (r: BroadcastStats['realms'][string]) => number]> = [
    ['eager_peers', 'Neighbours this node pushes payloads to, per realm', (r) => r.eagerPeers],
    ['lazy_peers', 'Neighbours this node announces ids to, per realm', (r) => r.lazyPeers],
    [
      'graft_timeout_seconds',
      'How long a node now waits for an announced payload before a GRAFT',
      (r) => r.graftTimeoutMs / 1000,
    ],
  ]
  for (const [name, help, pick] of perRealm) {
    new Gauge({
      name: `tlsmesh_tree_${name}`,
      help,
      labelNames: ['realm'],
      registers,
      collect() {
        for (const [realm, stats] of Object.entries(read().realms)) this.set({ realm }, pick(stats))
      },
    })
  }
}
