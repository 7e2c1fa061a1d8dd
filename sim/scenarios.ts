import { PING_INTERVAL_MS } from '@tlsmesh/mesh'
import type { Fleet } from './fleet.ts'
import type { Prng } from './prng.ts'
import type { Scheduler } from './scheduler.ts'
import type { SimNode } from './sim-node.ts'

export const SCENARIOS = ['steady', 'crash', 'partition', 'churn'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export interface ScenarioContext {
  fleet: Fleet
  scheduler: Scheduler
  prng: Prng
  regions: number
  /** When measured publishing starts. */
  start: number
}

export interface Scenario {
  /** How long records are published for (they are spread evenly over it). */
  spanMs: number
  /** Schedules the scenario's faults, relative to `context.start`. */
  schedule(context: ScenarioContext): void
}

const CHURN_SPAN_MS = 120_000
/** The partition: region 3 is cut off this long after measured publishing starts, and healed at the second. */
export const PARTITION_CUT_AT_MS = 15_000
export const PARTITION_HEAL_AT_MS = 75_000

/** peer-redial.ts's ceiling: a healed partition's lost peers are redialed within it. */
const REDIAL_CEILING_MS = 5000

/** `rate`: records per second, for `steady` (the others publish over their own timeline). */
export function scenario(name: ScenarioName, records: number, rate: number): Scenario {
  switch (name) {
    case 'steady':
      return { spanMs: (1000 * records) / rate, schedule: () => {} }
    case 'crash':
      return { spanMs: 40_000, schedule: crashFifth }
    case 'partition':
      return { spanMs: 90_000, schedule: cutLastRegion }
    case 'churn':
      return { spanMs: CHURN_SPAN_MS, schedule: churn }
  }
}

/** 20% of the nodes die at once 10 s in; 15 s later they start again, empty. */
function crashFifth({ fleet, scheduler, prng, start }: ScenarioContext): void {
  scheduler.at(start + 10_000, () => {
    const victims = pick(fleet.live(), Math.round(fleet.live().length / 5), prng)
    for (const node of victims) fleet.crash(node)
    scheduler.at(start + 25_000, () => {
      for (const node of victims) fleet.start(node.index)
    })
  })
}

/** The last region is cut off from 15 s to 75 s: 60 s, twice the ping interval that detects it. */
function cutLastRegion({ fleet, scheduler, regions, start }: ScenarioContext): void {
  scheduler.at(start + PARTITION_CUT_AT_MS, () => {
    const region = fleet.nodes.filter((node) => node.index % regions === regions - 1)
    const severed = fleet.cut(new Set(region.map((node) => node.index)), PING_INTERVAL_MS)
    scheduler.at(start + PARTITION_HEAL_AT_MS, () => fleet.heal(severed, REDIAL_CEILING_MS))
  })
}

/** 1% of the fleet replaced per minute, evenly spread: a node dies for good and a new one joins. */
function churn({ fleet, scheduler, prng, start }: ScenarioContext): void {
  const perMinute = fleet.nodes.length / 100
  const replacements = Math.max(1, Math.round((perMinute * CHURN_SPAN_MS) / 60_000))
  const every = CHURN_SPAN_MS / replacements
  for (let i = 0; i < replacements; i++) {
    scheduler.at(start + (i + 0.5) * every, () => {
      const [leaving] = pick(fleet.live(), 1, prng)
      if (leaving !== undefined) fleet.crash(leaving)
      fleet.start(fleet.nodes.length)
    })
  }
}

/** `count` distinct nodes, at random. */
function pick(nodes: SimNode[], count: number, prng: Prng): SimNode[] {
  const items = [...nodes]
  const n = Math.min(count, items.length)
  for (let i = 0; i < n; i++) {
    const j = i + prng.int(items.length - i)
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items.slice(0, n)
}
