// The figures the fleet benchmarks report for a run of chained resuming clients, and their spread
// over runs.
import type { ChainedClientResult } from '../../scripts/fleet/resume-client.ts'
import { percentile, spread } from './bench-report.ts'

export interface FleetRun {
  resumptionRate: number
  connectionsPerSecond: number
  resumedPerSecond: number
  handshakeP50Ms: number
  handshakeP99Ms: number
  errors: number
}

export function summarizeRun(r: ChainedClientResult): FleetRun {
  return {
    resumptionRate: r.offered === 0 ? 0 : r.resumed / r.offered,
    connectionsPerSecond: r.connections / (r.elapsedMs / 1000),
    resumedPerSecond: r.resumed / (r.elapsedMs / 1000),
    handshakeP50Ms: percentile(r.handshakeMs, 0.5),
    handshakeP99Ms: percentile(r.handshakeMs, 0.99),
    errors: r.errors,
  }
}

/** A progress line for one run. */
export function describeRun(run: FleetRun): string {
  return (
    `${(run.resumptionRate * 100).toFixed(1)}% resumed, ${run.connectionsPerSecond.toFixed(0)} conns/s, ` +
    `p50 ${run.handshakeP50Ms.toFixed(2)} ms, p99 ${run.handshakeP99Ms.toFixed(2)} ms, ${run.errors} errors`
  )
}

/** Median (min–max) of each figure over a fleet's runs. */
export function spreadRuns(list: FleetRun[]) {
  return {
    resumptionRate: spread(list.map((r) => r.resumptionRate)),
    connectionsPerSecond: spread(list.map((r) => r.connectionsPerSecond)),
    resumedPerSecond: spread(list.map((r) => r.resumedPerSecond)),
    handshakeP50Ms: spread(list.map((r) => r.handshakeP50Ms)),
    handshakeP99Ms: spread(list.map((r) => r.handshakeP99Ms)),
    errors: list.reduce((n, r) => n + r.errors, 0),
  }
}
