import { duration } from './units.ts'
import type { NodeView } from './watch-model.ts'

/** Share of a realm's budget (bytes or entries) above which the replica is "near its budget". */
export const REPLICA_NEAR_BUDGET = 0.9
/** Propagation p99 above this is worth a look (a slow peer, or clocks apart). */
export const SLOW_PROPAGATION_MS = 1000

/**
 * A node's encrypting key is never older than its rotation interval: the schedule rotates at the
 * period's start. Past it by this much, the node has stopped rotating (a blocked event loop, a
 * stopped schedule), whatever the jitter of a timer or of the poll.
 */
export const TICKET_KEY_AGE_MARGIN_MS = 5000

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
  out.push(...ticketKeyWarnings(view))
  return out
}

function ticketKeyWarnings(view: NodeView): Warning[] {
  const out: Warning[] = []
  // Absent from daemons older than ticket keys.
  for (const [realm, t] of Object.entries(view.status?.ticketKeys ?? {})) {
    const c = t.current
    if (c === null) {
      out.push({
        level: 'critical',
        text: `realm ${realm}: no current ticket key: tickets may not resume elsewhere`,
      })
    } else if (c.ageMs > t.rotationMs + TICKET_KEY_AGE_MARGIN_MS) {
      out.push({
        level: 'critical',
        text: `realm ${realm}: ticket key ${duration(c.ageMs)} old: it stopped rotating every ${duration(t.rotationMs)}`,
      })
    } else if (!t.ready) {
      out.push({
        level: 'warning',
        text: `realm ${realm}: next ticket key, due in ${duration(t.rotationMs - c.ageMs)}, has not arrived`,
      })
    }
    const files = t.files
    if (files?.lastWriteError != null) {
      out.push({
        level: 'critical',
        text: `realm ${realm}: key files not written, server keeps old keys: ${files.lastWriteError}`,
      })
    }
    const hook = files?.lastHook
    if (hook != null && (hook.code !== 0 || hook.timedOut)) {
      const how = hook.timedOut
        ? 'timed out'
        : hook.code !== null
          ? `exit ${hook.code}`
          : `killed by ${hook.signal}`
      out.push({
        level: 'warning',
        text: `realm ${realm}: ticket key hook failed (${how}): server may hold old keys`,
      })
    }
  }
  return out
}

/**
 * What only the fleet shows: nodes that hold different keys for the same period of a realm. The
 * merge rule settles a proposal race within a gossip round; a split that lasts means a partition,
 * or nodes configured with different rotations: tickets do not resume from one group on the other.
 */
export function fleetWarnings(views: NodeView[]): Warning[] {
  const byRealm = new Map<string, Map<string, Map<string, number>>>()
  for (const view of views) {
    if (view.state !== 'up') continue
    for (const [realm, t] of Object.entries(view.status?.ticketKeys ?? {})) {
      if (t.current === null) continue
      const periods = byRealm.get(realm) ?? new Map<string, Map<string, number>>()
      byRealm.set(realm, periods)
      const key = `${t.rotationMs}:${t.current.period}`
      const names = periods.get(key) ?? new Map<string, number>()
      periods.set(key, names)
      names.set(t.current.name, (names.get(t.current.name) ?? 0) + 1)
    }
  }
  const out: Warning[] = []
  for (const [realm, periods] of byRealm) {
    // Which key is on how many nodes: the fleet view's ticket key line.
    for (const names of periods.values()) {
      if (names.size < 2) continue
      out.push({
        level: 'critical',
        text: `realm ${realm}: nodes use different ticket keys: no resumption across them`,
      })
    }
  }
  return out
}
