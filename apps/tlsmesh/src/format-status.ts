import type { MeshStatus } from '@tlsmesh/mesh'

export type DaemonStatus = MeshStatus & { version: string }

function duration(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** A human-readable status, a line per fact, a row per realm. */
export function formatStatus(status: DaemonStatus): string {
  const lines = [
    `node      ${status.peerId}`,
    `version   ${status.version}   mesh "${status.meshName}"   up ${duration(status.uptimeMs)}`,
    `listen    ${status.listenAddrs.join('\n          ') || '-'}`,
    `peers     ${status.connectedPeers} connected`,
    `replica   ${status.replica.entries} records, ${bytes(status.replica.bytes)}, ${status.replica.evictions} evicted`,
    `records   ${status.records.published} published, ${status.records.stored} stored from peers, ${status.records.rejected} messages rejected`,
    `propagation p50 ${status.propagationMs.p50?.toFixed(1) ?? '-'} ms, p99 ${status.propagationMs.p99?.toFixed(1) ?? '-'} ms (${status.propagationMs.samples} samples)`,
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
