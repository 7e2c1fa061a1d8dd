import type { CatchUp } from './catch-up.ts'
import type { Fleet } from './fleet.ts'
import { type Measures, summarize } from './measures.ts'
import { PAYLOAD_BYTES, REALM, recordNoOf } from './records.ts'
import type { Scheduler } from './scheduler.ts'
import { nodeName } from './sim-node.ts'
import type { Delivery, Invariants, SimOptions, SimResult } from './simulation.ts'
import type { Traffic } from './traffic.ts'

export interface Run {
  fleet: Fleet
  scheduler: Scheduler
  traffic: Traffic
  measures: Measures
  epoch: number
  /** When measured publishing starts. */
  start: number
  catchUp?: CatchUp
}

const MISSING_LISTED = 10

/** What the run measured, as numbers rounded so that the same seed gives the same JSON. */
export function outcomeOf(options: SimOptions, run: Run): SimResult {
  const { fleet, traffic, measures } = run
  const measured = measures.records.filter((log) => log.measured)
  const perRecord = (values: ArrayLike<number>) => summarize(measured.map((log) => values[log.no]!))
  const payloadCopies = perRecord(traffic.payloadCopies)
  const deliveries = summarize(measured.map((log) => log.deliveries))
  const live = fleet.live()
  return {
    options,
    virtualMs: run.scheduler.now() - run.epoch,
    events: run.scheduler.executed,
    nodesAtEnd: { live: live.length, degree: summarize(live.map((node) => node.links.size)) },
    records: { measured: measured.length, payloadBytes: PAYLOAD_BYTES },
    perRecord: {
      payloadCopies,
      deliveries,
      originSends: perRecord(traffic.originSends),
      ihaveBytes: perRecord(traffic.ihaveBytes),
      ihaveFrames: perRecord(traffic.ihaveFrames),
      grafts: perRecord(traffic.grafts),
    },
    copiesPerDelivery: deliveries.mean > 0 ? Number((payloadCopies.mean / deliveries.mean).toFixed(3)) : 0,
    lastDeliveryHops: summarize(measured.map((log) => log.lastHops + 1)),
    treeDepth: summarize(measured.map((log) => log.maxHops + 1)),
    latencyMs: summarize(measures.latencies),
    prunes: traffic.prunes,
    delivery: deliveryOf(run),
    invariants: invariantsOf(run),
  }
}

function invariantsOf({ fleet, measures, scheduler }: Run): Invariants {
  const originOf = new Map(measures.records.map((log) => [log.no, nodeName(log.origin)]))
  const now = Math.floor(scheduler.now())
  const invariants: Invariants = { foreignRecords: 0, maxReplicaEntries: 0, maxLinks: 0 }
  for (const node of fleet.live()) {
    let entries = 0
    for (const record of node.store.entries(REALM, now)) {
      entries++
      if (originOf.get(recordNoOf(record.id)) !== record.origin) invariants.foreignRecords++
    }
    invariants.maxReplicaEntries = Math.max(invariants.maxReplicaEntries, entries)
    invariants.maxLinks = Math.max(invariants.maxLinks, node.links.size)
  }
  return invariants
}

/**
 * Every live node must hold every measured record published after it joined the tree. Those it had
 * no path to when they were published are catch-up's: expected only when the run has catch-up, and
 * counted apart either way.
 */
function deliveryOf({ fleet, measures, start, catchUp }: Run): Delivery {
  const delivery: Delivery = {
    expected: 0,
    delivered: 0,
    fraction: 1,
    missing: [],
    catchUpPairs: 0,
    catchUpPairsHeld: 0,
    lastArrivalMs: 0,
    lastCatchUpArrivalMs: 0,
    maxPairLatencyMs: 0,
    catchUpArrivalMs: summarize([]),
    catchUpSessions: catchUp?.sessions ?? 0,
    catchUpRecords: catchUp?.recordsMoved ?? 0,
  }
  let lastArrival = start
  let lastCatchUpArrival = start
  const catchUpArrivals: number[] = []
  for (const log of measures.records) {
    if (!log.measured) continue
    for (const node of fleet.live()) {
      if (node.index === log.origin || node.joinedAt === undefined || node.joinedAt > log.publishedAt)
        continue
      const holds = node.holds(log.no)
      const cutOff = log.unreachable.has(node.index)
      if (cutOff) {
        delivery.catchUpPairs++
        if (holds) {
          delivery.catchUpPairsHeld++
          const arrival = node.arrivals.get(log.no) ?? start
          lastCatchUpArrival = Math.max(lastCatchUpArrival, arrival)
          catchUpArrivals.push(arrival - start)
        }
        if (catchUp === undefined) continue
      }
      delivery.expected++
      if (holds) {
        delivery.delivered++
        const arrival = node.arrivals.get(log.no) ?? start
        lastArrival = Math.max(lastArrival, arrival)
        if (!cutOff)
          delivery.maxPairLatencyMs = Math.max(
            delivery.maxPairLatencyMs,
            Math.round(arrival - log.publishedAt),
          )
      } else if (delivery.missing.length < MISSING_LISTED) delivery.missing.push(`${log.no}@${node.index}`)
    }
  }
  if (delivery.expected > 0) delivery.fraction = Number((delivery.delivered / delivery.expected).toFixed(6))
  delivery.lastArrivalMs = Math.round(lastArrival - start)
  delivery.lastCatchUpArrivalMs = Math.round(lastCatchUpArrival - start)
  delivery.catchUpArrivalMs = summarize(catchUpArrivals)
  return delivery
}
