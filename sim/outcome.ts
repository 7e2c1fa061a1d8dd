import type { Fleet } from './fleet.ts'
import { type Measures, summarize } from './measures.ts'
import { PAYLOAD_BYTES } from './records.ts'
import type { Scheduler } from './scheduler.ts'
import type { Delivery, SimOptions, SimResult } from './simulation.ts'
import type { Traffic } from './traffic.ts'

export interface Run {
  fleet: Fleet
  scheduler: Scheduler
  traffic: Traffic
  measures: Measures
  epoch: number
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
  }
}

/**
 * Every live node must hold every measured record published after it joined the tree, except the
 * ones it had no path to when they were published (counted apart: catch-up would bring them).
 */
function deliveryOf({ fleet, measures }: Run): Delivery {
  const delivery: Delivery = {
    expected: 0,
    delivered: 0,
    fraction: 1,
    missing: [],
    catchUpPairs: 0,
    catchUpDeliveredByTree: 0,
  }
  for (const log of measures.records) {
    if (!log.measured) continue
    for (const node of fleet.live()) {
      if (node.index === log.origin || node.joinedAt === undefined || node.joinedAt > log.publishedAt)
        continue
      const holds = node.holds(log.no)
      if (log.unreachable.has(node.index)) {
        delivery.catchUpPairs++
        if (holds) delivery.catchUpDeliveredByTree++
        continue
      }
      delivery.expected++
      if (holds) delivery.delivered++
      else if (delivery.missing.length < MISSING_LISTED) delivery.missing.push(`${log.no}@${node.index}`)
    }
  }
  if (delivery.expected > 0) delivery.fraction = Number((delivery.delivered / delivery.expected).toFixed(6))
  return delivery
}
