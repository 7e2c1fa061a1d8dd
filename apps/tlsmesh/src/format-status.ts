import type { DaemonStatus, PeersDocument } from '@tlsmesh/tlsmeshd/admin-schema'
import { bytes, duration, grouped, ms, percent } from './units.ts'

/** A human-readable status, a line per fact, a row per realm. */
export function formatStatus(status: DaemonStatus): string {
  const readiness =
    status.readiness === undefined
      ? ''
      : status.readiness.ready
        ? '   ready'
        : `   NOT READY: ${status.readiness.reasons.map((r) => r.message).join('; ')}`
  const degree = status.meshDegree
  const m = status.memcache
  const sync = status.sync
  const refused = Object.entries(status.records.refused ?? {}).filter(([, n]) => (n ?? 0) > 0)
  const lines = [
    `node      ${status.peerId}`,
    `version   ${status.version}   mesh "${status.meshName}"   up ${duration(status.uptimeMs)}${readiness}`,
    `listen    ${status.listenAddrs.join('\n          ') || '-'}`,
    `peers     ${status.connectedPeers} connected`,
    ...(degree !== undefined
      ? [`gossip    mesh degree target D ${degree.D}, Dlo ${degree.Dlo}, Dhi ${degree.Dhi}`]
      : []),
    `replica   ${status.replica.entries} records, ${bytes(status.replica.bytes)}, ${status.replica.evictions} evicted`,
    `records   ${status.records.published} published, ${status.records.stored} stored from peers, ${status.records.rejected} messages rejected`,
    ...(refused.length > 0 ? [`refused   ${refused.map(([code, n]) => `${code} ${n}`).join(', ')}`] : []),
    `propagation p50 ${ms(status.propagationMs.p50)} ms, p99 ${ms(status.propagationMs.p99)} ms (${status.propagationMs.samples} samples)`,
    ...(sync !== undefined
      ? [
          `catch-up  ${sync.running ? 'running, ' : ''}${sync.succeeded} done, ${sync.failed} failed, ${sync.served} served; pulled ${sync.recordsPulled}, pushed ${sync.recordsPushed}`,
        ]
      : []),
    ...(m != null
      ? [
          `memcached realm ${m.realm}: ${grouped(m.lookups)} lookups, ${grouped(m.hits)} hits (${percent(m.hits, m.lookups)})`,
        ]
      : []),
    '',
    'realm                mesh peers  subscribers   records        bytes',
  ]
  for (const [realm, r] of Object.entries(status.realms)) {
    lines.push(
      `${realm.padEnd(20)} ${String(r.meshPeers).padStart(10)}  ${String(r.subscribers).padStart(11)}  ${String(r.entries).padStart(8)}  ${bytes(r.bytes).padStart(11)}`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** One block per peer: id, then direction, latency, mesh membership, score, addresses. */
export function formatPeers(doc: PeersDocument): string {
  const lines = [
    `${doc.peers.length} peer(s) connected to ${doc.peerId}; gossip mesh target D ${doc.meshDegree.D} (Dlo ${doc.meshDegree.Dlo}, Dhi ${doc.meshDegree.Dhi})`,
  ]
  if (doc.peers.length === 0) return `${lines[0]}\n`
  lines.push('')
  lines.push(`${'peer'.padEnd(54)} ${'dir'.padEnd(8)} ${'ping'.padStart(7)} ${'score'.padStart(7)}  mesh`)
  for (const peer of doc.peers) {
    const mesh =
      doc.realms
        .flatMap((realm) =>
          peer.meshRealms.includes(realm)
            ? [realm]
            : peer.subscribedRealms.includes(realm)
              ? [`(${realm})`]
              : [],
        )
        .join(' ') || '-'
    const latency = peer.latencyMs === null ? '-' : `${ms(peer.latencyMs)}ms`
    const score = peer.score === null ? '-' : peer.score.toFixed(1)
    lines.push(
      `${peer.peerId.padEnd(54)} ${peer.direction.padEnd(8)} ${latency.padStart(7)} ${score.padStart(7)}  ${mesh}`,
    )
    for (const address of peer.addresses) lines.push(`  ${address}`)
  }
  lines.push('')
  lines.push(
    'mesh: realms whose gossip mesh holds the peer; (realm): it serves the realm but is outside our mesh',
  )
  return `${lines.join('\n')}\n`
}
