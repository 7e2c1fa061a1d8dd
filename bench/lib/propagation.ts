import type { Arrivals } from './mesh-fleet.ts'

export interface Propagation {
  /** When node 0 created the record (its clock, ms). */
  created: number
  /** Until the last other node that has it stored it: publish to "every node holds it". */
  delayMs: number
}

/** For each record node 0 published that `include` takes, when it was made and how long it took to reach every node. */
export function propagationOf(arrivals: Arrivals[], include: (id: string) => boolean): Propagation[] {
  const created = new Map(arrivals[0]!.published.filter(([id]) => include(id)))
  const last = new Map<string, number>()
  for (const node of arrivals.slice(1)) {
    for (const [id, at] of node.arrivals) {
      const made = created.get(id)
      if (made !== undefined) last.set(id, Math.max(last.get(id) ?? 0, at - made))
    }
  }
  return [...last].map(([id, delayMs]) => ({ created: created.get(id)!, delayMs }))
}
