import type { NodeView } from './watch-model.ts'

/** Share of a realm's budget (bytes or entries) above which the replica is "near its budget". */
export const REPLICA_NEAR_BUDGET = 0.9
/** Propagation p99 above this is worth a look (a slow peer, or clocks apart). */
export const SLOW_PROPAGATION_MS = 1000

export type WarningLevel = 'critical' | 'warning'

export interface Warning {
  level: WarningLevel
  text: string
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`
}

/**
 * What is wrong with a node, in plain words, most serious first. Only what an operator can act on:
 * a 3-node fleet cannot reach gossipsub's Dlo of 4, so a low mesh degree is reported only when more
 * peers serve the realm than the mesh holds.
 */
export function nodeWarnings(view: NodeView, now: number): Warning[] {
  const out: Warning[] = []
  if (view.state === 'down' || view.state === 'late') {
    const since = view.failingSince !== undefined ? ` for ${seconds(now - view.failingSince)}` : ''
    out.push({
      level: view.state === 'down' ? 'critical' : 'warning',
      text: `daemon unreachable${since} (${view.error ?? 'no answer'})`,
    })
    return out
  }
  const s = view.status
  if (s === undefined) return out
  if (s.connectedPeers === 0) {
    out.push({
      level: 'critical',
      text:
        (s.seeds ?? 0) > 0
          ? 'no peers: none of the seeds answers; sessions made here reach no other node'
          : 'no peers (no seeds configured): sessions made here reach no other node',
    })
  }
  const dlo = s.meshDegree?.Dlo
  for (const [realm, r] of Object.entries(s.realms)) {
    if (s.connectedPeers > 0 && r.meshPeers === 0) {
      out.push({ level: 'critical', text: `realm ${realm}: no gossip mesh peer, its sessions do not travel` })
    } else if (dlo !== undefined && r.meshPeers < dlo && r.meshPeers < r.subscribers) {
      out.push({
        level: 'warning',
        text: `realm ${realm}: mesh degree ${r.meshPeers} below Dlo ${dlo} although ${r.subscribers} peers serve it`,
      })
    }
  }
  if (s.sync?.running === true || s.readiness?.reasons.some((r) => r.code === 'catch-up-pending')) {
    out.push({
      level: 'warning',
      text: 'catch-up running: this replica may still miss sessions the fleet holds',
    })
  }
  const limits = s.replicaLimits
  if (limits !== undefined) {
    for (const [realm, r] of Object.entries(s.realms)) {
      const share = Math.max(r.bytes / limits.maxBytesPerRealm, r.entries / limits.maxEntriesPerRealm)
      if (share >= REPLICA_NEAR_BUDGET) {
        out.push({
          level: 'warning',
          text: `realm ${realm}: replica at ${Math.floor(share * 100)}% of its budget; older sessions are being evicted`,
        })
      }
    }
  }
  if (view.recent.rejected > 0) {
    out.push({
      level: 'warning',
      text: `${view.recent.rejected} invalid gossip message(s) rejected in the last ${seconds(view.recent.windowMs)}`,
    })
  }
  if (view.recent.clockSkew > 0) {
    out.push({
      level: 'warning',
      text: `${view.recent.clockSkew} record(s) from outside the clock-skew window: check NTP on the fleet`,
    })
  }
  const p99 = s.propagationMs?.p99
  if (p99 != null && p99 > SLOW_PROPAGATION_MS) {
    out.push({
      level: 'warning',
      text: `propagation p99 ${Math.round(p99)} ms: a slow peer, or clocks apart`,
    })
  }
  return out
}
