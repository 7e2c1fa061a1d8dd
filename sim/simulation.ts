import { DEFAULT_MAX_CONNECTIONS, DEFAULT_TARGET_PEERS } from '@tlsmesh/mesh'
import { CatchUp } from './catch-up.ts'
import { Fleet } from './fleet.ts'
import { Measures, type Summary } from './measures.ts'
import { Network } from './network.ts'
import { outcomeOf, type Run } from './outcome.ts'
import { Prng } from './prng.ts'
import { recordNoOf, recordPayload } from './records.ts'
import { type ScenarioName, scenario } from './scenarios.ts'
import { Scheduler } from './scheduler.ts'
import type { SimNode } from './sim-node.ts'
import { Traffic } from './traffic.ts'

export interface SimOptions {
  scenario: ScenarioName
  nodes: number
  seed: number
  /** Records published and measured, after the warm-up. */
  records: number
  /** Records published while the tree forms (every link starts eager), not measured. */
  warmupRecords: number
  /** Records per second in the steady scenario (the others have their own timelines). */
  rate: number
  regions: number
  lanMs: number
  wanMs: number
  lanMbps: number
  wanMbps: number
  /** What a node spends on a tree frame before acting on it (see NetworkInit.handleMs). */
  handleMs: number
  loss: number
  /**
   * How the fleet forms: `linked`, every node dialed random peers up to its target before the run;
   * `seeded`, as bench/scale.ts starts its processes (node 0 is every node's seed, and peer
   * exchange does the rest).
   */
  join: JoinMode
  /** Run the mesh's catch-up beside the tree (the daemon does); false: the tree alone. */
  catchUp: boolean
  /** Publish every record from this node (as bench/scale.ts does) instead of from random ones. */
  origin?: number
}

export const JOIN_MODES = ['linked', 'seeded'] as const
export type JoinMode = (typeof JOIN_MODES)[number]

export const DEFAULT_OPTIONS: SimOptions = {
  scenario: 'steady',
  nodes: 1000,
  seed: 1,
  records: 200,
  warmupRecords: 50,
  rate: 10,
  regions: 3,
  lanMs: 0.2,
  wanMs: 30,
  lanMbps: 1000,
  wanMbps: 100,
  handleMs: 0.1,
  loss: 0,
  join: 'linked',
  catchUp: true,
}

/**
 * The conditions of bench/scale.ts: processes on loopback (one region, ~50 µs a hop, most of a hop's
 * time spent handling the frame), started together with node 0 as every node's seed, 250 batches of
 * warm-up, then every batch from node 0 (a batch of 64 records is one payload here).
 */
export const SCALE_BENCH_CONDITIONS: Partial<SimOptions> = {
  regions: 1,
  lanMs: 0.05,
  handleMs: 0.1,
  join: 'seeded',
  origin: 0,
  records: 63,
  warmupRecords: 250,
  rate: 31,
}

/** Virtual time starts at a real date: the replicas check records' times against it. */
const EPOCH = Date.UTC(2026, 0, 1)
const WARMUP_MS = 10_000
/** After the last publication: repairs, redials and the last GRAFTs. */
const DRAIN_MS = 20_000
const PROGRESS_EVERY_MS = 5000
/** A seeded fleet's processes start over this long after the seed's (bench/lib/mesh-fleet.ts forks them together). */
const SEEDED_START_SPREAD_MS = 1000
/** A seeded fleet forms over this long before the warm-up begins, as bench/scale.ts waits for its mesh. */
const SEEDED_FORM_MS = 3000

export interface Delivery {
  /** (record, node) pairs that the tree alone must deliver, and how many it did. */
  expected: number
  delivered: number
  fraction: number
  /** The first few pairs it missed, as "record@node". */
  missing: string[]
  /**
   * Pairs with no path from the node to the record's origin when it was published: only catch-up
   * brings them. Expected (above) when the run has catch-up; how many were held at the end.
   */
  catchUpPairs: number
  catchUpPairsHeld: number
  /** Virtual ms from the start of measured publishing to the last expected pair's arrival. */
  lastArrivalMs: number
  /** The same for the cut-off pairs alone: when catch-up had brought the last of them. */
  lastCatchUpArrivalMs: number
  /** When each held cut-off pair arrived, in virtual ms from the start of measured publishing. */
  catchUpArrivalMs: Summary
  /** The longest a node took to hold a record published while it was on the tree and reachable. */
  maxPairLatencyMs: number
  /** Catch-up sessions run, and the records they moved (both ways). */
  catchUpSessions: number
  catchUpRecords: number
}

export interface SimResult {
  options: SimOptions
  virtualMs: number
  events: number
  nodesAtEnd: { live: number; degree: Summary }
  records: { measured: number; payloadBytes: number }
  perRecord: {
    payloadCopies: Summary
    /** Nodes that received it (N - 1 when every node did). */
    deliveries: Summary
    originSends: Summary
    ihaveBytes: Summary
    ihaveFrames: Summary
    grafts: Summary
  }
  /** Payload copies sent per node reached (1: a tree; the mean degree: a flood). */
  copiesPerDelivery: number
  /** Hops from the origin of each record's last delivery, and its deepest one. */
  lastDeliveryHops: Summary
  treeDepth: Summary
  latencyMs: Summary
  prunes: number
  delivery: Delivery
  invariants: Invariants
}

/** What must hold after every run, whatever the scenario and seed. */
export interface Invariants {
  /** Records held by a live node that no node published, or under another origin than its publisher. */
  foreignRecords: number
  /** The most records any live node holds: at most the run's records (nothing is kept twice). */
  maxReplicaEntries: number
  /** The most links any live node holds: at most the connection limit. */
  maxLinks: number
}

export async function runSimulation(
  options: SimOptions,
  progress: (line: string) => void = () => {},
): Promise<SimResult> {
  const run = { ...setUp(options), ...(options.origin !== undefined ? { origin: options.origin } : {}) }
  const plan = scenario(options.scenario, options.records, options.rate)
  const start = EPOCH + WARMUP_MS
  plan.schedule({ ...run, regions: options.regions, start })
  for (let i = 0; i < options.warmupRecords; i++) {
    publishAt(run, i, EPOCH + ((i + 0.5) * WARMUP_MS) / options.warmupRecords, false)
  }
  for (let i = 0; i < options.records; i++) {
    publishAt(run, options.warmupRecords + i, start + ((i + 0.5) * plan.spanMs) / options.records, true)
  }
  const { scheduler } = run
  const end = start + plan.spanMs + DRAIN_MS
  while (scheduler.now() < end) {
    if (!scheduler.runUntil(Math.min(end, scheduler.now() + PROGRESS_EVERY_MS))) {
      await run.catchUp?.drain()
      continue
    }
    const virtual = (scheduler.now() - EPOCH) / 1000
    progress(`${options.scenario} N=${options.nodes}: ${virtual} s virtual, ${scheduler.executed} events`)
  }
  return outcomeOf(options, run)
}

function setUp(options: SimOptions): Run & { prng: Prng } {
  const total = options.warmupRecords + options.records
  const scheduler = new Scheduler(options.join === 'seeded' ? EPOCH - SEEDED_FORM_MS : EPOCH)
  const prng = new Prng(options.seed)
  const network = new Network(options, scheduler, prng)
  // Read at each session, after the fleet below exists.
  const peersOf = (node: SimNode): SimNode[] => [...node.links].map((peer) => fleet.nodes[peer]!)
  const catchUp = options.catchUp ? new CatchUp({ scheduler, network, prng, peersOf }) : undefined
  const traffic = new Traffic(total)
  const measures = new Measures()
  const fleet = new Fleet(
    { targetPeers: DEFAULT_TARGET_PEERS, maxConnections: DEFAULT_MAX_CONNECTIONS, records: total },
    {
      scheduler,
      network,
      prng,
      traffic,
      delivered: (_node, payload) =>
        measures.delivered(recordNoOf(payload.data), payload.hops, scheduler.now()),
      ...(catchUp !== undefined ? { catchUp } : {}),
    },
  )
  if (options.join === 'seeded') fleet.startSeeded(options.nodes, SEEDED_START_SPREAD_MS)
  else fleet.startLinked(options.nodes)
  return {
    fleet,
    scheduler,
    prng,
    traffic,
    measures,
    epoch: EPOCH,
    start: EPOCH + WARMUP_MS,
    ...(catchUp !== undefined ? { catchUp } : {}),
  }
}

/** Record `no` is published at `at` by a random live node that is on the tree. */
function publishAt(
  run: Run & { prng: Prng; origin?: number },
  no: number,
  at: number,
  measured: boolean,
): void {
  const { fleet, scheduler, prng, traffic, measures } = run
  scheduler.at(at, () => {
    const origins = fleet.live().filter((node) => node.joinedAt !== undefined)
    const fixed = run.origin === undefined ? undefined : origins.find((node) => node.index === run.origin)
    const origin = fixed ?? origins[prng.int(origins.length)]!
    const payload = recordPayload(no, origin.name, scheduler.now())
    traffic.published(no, payload.origin, payload.data)
    measures.published(no, origin.index, scheduler.now(), measured, fleet.unreachableFrom(origin))
    origin.tree.broadcast(payload)
  })
}
