import type { Summary } from './measures.ts'
import type { SimResult } from './simulation.ts'

const row = (label: string, s: Summary, unit = ''): string =>
  `${label.padEnd(34)} mean ${fmt(s.mean)}  p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}  max ${fmt(s.max)}${unit}`

const fmt = (x: number): string => String(x).padStart(9)

/** The result as a table for a terminal (the JSON has the same numbers). */
export function formatTable(result: SimResult): string {
  const { options: o, perRecord: r, delivery: d } = result
  const lines = [
    `scenario ${o.scenario}, N = ${o.nodes}, seed ${o.seed}, ${o.regions} regions (LAN ${o.lanMs} ms, WAN ${o.wanMs} ms), loss ${o.loss}`,
    `${result.records.measured} records measured (${result.records.payloadBytes}-byte payloads), ${result.virtualMs / 1000} s virtual, ${result.events} events`,
    `live nodes at the end ${result.nodesAtEnd.live}; ${row('links per node', result.nodesAtEnd.degree)}`,
    '',
    row('payload copies per record', r.payloadCopies),
    row('nodes reached per record', r.deliveries),
    `${'copies per node reached'.padEnd(34)} ${result.copiesPerDelivery}`,
    row('origin sends per record', r.originSends),
    row('IHAVE bytes per record', r.ihaveBytes),
    row('IHAVE frames per record', r.ihaveFrames),
    row('GRAFTs per record', r.grafts),
    row('hops of the last delivery', result.lastDeliveryHops),
    row('tree depth (deepest delivery)', result.treeDepth),
    row('delivery latency', result.latencyMs, ' ms'),
    `${'PRUNEs'.padEnd(34)} ${result.prunes}`,
    '',
    `delivered ${d.delivered} of ${d.expected} (record, node) pairs: ${d.fraction}` +
      (d.missing.length > 0 ? ` (missing e.g. ${d.missing.join(' ')})` : ''),
  ]
  if (d.catchUpPairs > 0) {
    lines.push(
      `cut off from the origin at publication: ${d.catchUpPairs} pairs, ${d.catchUpPairsHeld} held at the end`,
      row('their arrival after measured start', d.catchUpArrivalMs, ' ms'),
    )
  }
  lines.push(
    `catch-up: ${d.catchUpSessions} sessions moved ${d.catchUpRecords} records; last arrival ${d.lastArrivalMs} ms after measured publishing began (of a cut-off pair: ${d.lastCatchUpArrivalMs} ms); slowest reachable pair ${d.maxPairLatencyMs} ms`,
  )
  return lines.join('\n')
}
