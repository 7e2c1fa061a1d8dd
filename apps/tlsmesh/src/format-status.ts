import type { DaemonStatus, PeersDocument, TicketKeysRealmStatus } from '@tlsmesh/admin-api'
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
    ...treeLines(status),
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
  lines.push(...ticketKeyLines(status))
  return `${lines.join('\n')}\n`
}

/** The broadcast tree: each realm's degree, then what repairs and losses it counted. */
function treeLines(status: DaemonStatus): string[] {
  const tree = status.broadcast
  if (tree == null) return []
  const degrees = Object.entries(tree.realms)
    .map(([realm, t]) => `${realm} ${t.eagerPeers} eager/${t.lazyPeers} lazy`)
    .join(', ')
  return [
    `tree      ${degrees || 'no realm'}`,
    `          ${grouped(tree.payloadsReceived)} batches in, ${grouped(tree.duplicates)} duplicates, ${grouped(tree.graftsSent)} grafts, ${grouped(tree.framesDropped)} frames dropped, ${grouped(tree.missingAbandoned)} left to catch-up`,
  ]
}

/** What the files and the hook last did, in a few words. */
export function keyFilesSummary(files: NonNullable<TicketKeysRealmStatus['files']>, now: number): string {
  const written =
    files.lastWriteError !== null
      ? `last write FAILED (${files.lastWriteError})`
      : files.lastWriteAt !== null
        ? `written ${duration(now - files.lastWriteAt)} ago`
        : 'not written yet'
  const hook = files.lastHook
  const hookText =
    hook === null
      ? ''
      : hook.timedOut
        ? '; hook timed out'
        : hook.code === 0
          ? '; hook ok'
          : `; hook FAILED (${hook.code !== null ? `exit ${hook.code}` : `killed by ${hook.signal}`})`
  return `${written}${hookText}`
}

/**
 * Per realm of `--ticket-keys`: the encrypting key's name (public: every ticket starts with it, and
 * `openssl sess_id -text` shows it), its age, how many keys are held, when the next one starts.
 */
function ticketKeyLines(status: DaemonStatus): string[] {
  // Absent from daemons older than ticket keys.
  const realms = Object.entries(status.ticketKeys ?? {})
  if (realms.length === 0) return []
  const lines = [
    '',
    `${'ticket keys'.padEnd(20)} ${'current key name'.padEnd(32)} ${'age'.padStart(7)}  held  next`,
  ]
  for (const [realm, t] of realms) {
    const c = t.current
    lines.push(
      `${realm.padEnd(20)} ${(c?.name ?? 'none yet').padEnd(32)} ${(c !== null ? duration(c.ageMs) : '-').padStart(7)}  ${String(t.held).padStart(4)}  ${t.next !== null ? `in ${duration(t.next.startsInMs)}` : '-'}${t.ready ? '' : '  NOT READY'}`,
    )
    lines.push(
      `${''.padEnd(20)} rotation ${duration(t.rotationMs)}, then decrypts ${duration(t.decryptLifetimeMs)}; ${t.rotations} rotations, ${t.proposed} proposed here, ${t.replaced} replaced`,
    )
    if (t.files !== null) {
      lines.push(
        `${''.padEnd(20)} ${t.files.format} files in ${t.files.dir}: ${keyFilesSummary(t.files, status.time ?? Date.now())}`,
      )
    }
  }
  return lines
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
