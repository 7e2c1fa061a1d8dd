/**
 * The mesh's and the ticket keys' own status, copied field by field into the admin API's documents
 * (@tlsmesh/admin-api). Never a spread: a field the mesh adds, renames or retypes must not reach
 * the HTTP contract unnoticed; a rename or retype fails to compile here, an addition is left out
 * until the contract names it.
 */
import type {
  BroadcastStatus,
  DaemonStatus,
  GossipRefusalCode,
  MeshDegreeTargets,
  PeerEntry,
  RecordCounts,
  SyncStatus,
  TicketKeyFilesStatus,
  TicketKeysRealmStatus,
} from '@tlsmesh/admin-api'
import type { MeshStatus, PeerReport, ValidationCode } from '@tlsmesh/mesh'
import type { TicketKeyFileFormat, TicketKeyFilesStats, TicketKeyStatus } from '@tlsmesh/ticket-keys'

/** The part of `/status` the mesh reports. */
export type MeshFields = Pick<
  DaemonStatus,
  | 'peerId'
  | 'meshName'
  | 'listenAddrs'
  | 'connectedPeers'
  | 'peers'
  | 'realms'
  | 'replica'
  | 'records'
  | 'propagationMs'
  | 'sync'
  | 'broadcast'
  | 'uptimeMs'
>

export function meshFields(s: MeshStatus): MeshFields {
  const realms: MeshFields['realms'] = {}
  for (const [realm, r] of Object.entries(s.realms)) {
    realms[realm] = { meshPeers: r.meshPeers, subscribers: r.subscribers, entries: r.entries, bytes: r.bytes }
  }
  const { replica, propagationMs } = s
  return {
    peerId: s.peerId,
    meshName: s.meshName,
    listenAddrs: [...s.listenAddrs],
    connectedPeers: s.connectedPeers,
    peers: [...s.peers],
    realms,
    replica: {
      entries: replica.entries,
      bytes: replica.bytes,
      evictions: replica.evictions,
      expirations: replica.expirations,
    },
    records: recordCounts(s.records),
    propagationMs: { samples: propagationMs.samples, p50: propagationMs.p50, p99: propagationMs.p99 },
    sync: syncStatus(s.sync),
    broadcast: s.broadcast === null ? null : broadcastStatus(s.broadcast),
    uptimeMs: s.uptimeMs,
  }
}

function recordCounts(r: MeshStatus['records']): RecordCounts {
  // Compiles only while every mesh code is one of the contract's: a new one must be added there.
  const refused: Partial<Record<GossipRefusalCode, number>> = {}
  for (const [code, n] of Object.entries(r.refused) as [ValidationCode, number | undefined][]) {
    if (n !== undefined) refused[code] = n
  }
  return {
    published: r.published,
    received: r.received,
    stored: r.stored,
    messagesPublished: r.messagesPublished,
    messagesReceived: r.messagesReceived,
    rejected: r.rejected,
    ignored: r.ignored,
    refused,
    clockSkewSuspected: r.clockSkewSuspected,
  }
}

function syncStatus(s: MeshStatus['sync']): SyncStatus {
  const last = s.lastResult
  return {
    started: s.started,
    succeeded: s.succeeded,
    failed: s.failed,
    declinedByPeer: s.declinedByPeer,
    served: s.served,
    servedCompleted: s.servedCompleted,
    declined: s.declined,
    recordsPulled: s.recordsPulled,
    recordsPushed: s.recordsPushed,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    running: s.running,
    lastSyncAt: s.lastSyncAt,
    lastResult:
      last === null
        ? null
        : {
            peer: last.peer,
            durationMs: last.durationMs,
            rounds: last.rounds,
            pushed: last.pushed,
            pulled: last.pulled,
            differingRanges: last.differingRanges,
          },
  }
}

function broadcastStatus(b: NonNullable<MeshStatus['broadcast']>): BroadcastStatus {
  const realms: BroadcastStatus['realms'] = {}
  for (const [realm, r] of Object.entries(b.realms)) {
    realms[realm] = { eagerPeers: r.eagerPeers, lazyPeers: r.lazyPeers, graftTimeoutMs: r.graftTimeoutMs }
  }
  return {
    originated: b.originated,
    originPayloadsSent: b.originPayloadsSent,
    payloadsSent: b.payloadsSent,
    payloadsReceived: b.payloadsReceived,
    payloadsSpared: b.payloadsSpared,
    relaysBeforeArrival: b.relaysBeforeArrival,
    duplicates: b.duplicates,
    idsAnnounced: b.idsAnnounced,
    graftsSent: b.graftsSent,
    graftMisses: b.graftMisses,
    prunesSent: b.prunesSent,
    sendFailures: b.sendFailures,
    missingAbandoned: b.missingAbandoned,
    announcementsDropped: b.announcementsDropped,
    graftIdsRefused: b.graftIdsRefused,
    graftsDeclined: b.graftsDeclined,
    linksShed: b.linksShed,
    realms,
    framesDropped: b.framesDropped,
    badFrames: b.badFrames,
    badSignatures: b.badSignatures,
    linksReopened: b.linksReopened,
  }
}

export function meshDegree(d: MeshDegreeTargets): MeshDegreeTargets {
  return { D: d.D, Dlo: d.Dlo, Dhi: d.Dhi }
}

/** One row of `/peers`. */
export function peerEntry(p: PeerReport): PeerEntry {
  return {
    peerId: p.peerId,
    addresses: [...p.addresses],
    direction: p.direction,
    latencyMs: p.latencyMs,
    connections: p.connections.map((c) => ({
      direction: c.direction,
      remoteAddr: c.remoteAddr,
      latencyMs: c.latencyMs,
      openedAt: c.openedAt,
    })),
    meshRealms: [...p.meshRealms],
    subscribedRealms: [...p.subscribedRealms],
    score: p.score,
  }
}

/** Where and how a realm's key files are written, beside the file sync's own counts. */
export interface TicketKeyFilesPlace {
  dir: string
  format: TicketKeyFileFormat
  slots: number
}

/** One realm of `ticketKeys` in `/status`: the schedule's status and, with `--ticket-keys-dir`, its files. */
export function ticketKeysRealmStatus(
  s: TicketKeyStatus,
  files: { stats: TicketKeyFilesStats; place: TicketKeyFilesPlace } | null,
): TicketKeysRealmStatus {
  const { current, next } = s
  return {
    keyRealm: s.keyRealm,
    ready: s.ready,
    held: s.held,
    current:
      current === null
        ? null
        : { name: current.name, period: current.period, ageMs: current.ageMs, origin: current.origin },
    next: next === null ? null : { name: next.name, period: next.period, startsInMs: next.startsInMs },
    rotationMs: s.rotationMs,
    decryptLifetimeMs: s.decryptLifetimeMs,
    proposed: s.proposed,
    rotations: s.rotations,
    replaced: s.replaced,
    invalidRecords: s.invalidRecords,
    errors: s.errors,
    files: files === null ? null : ticketKeyFilesStatus(files.stats, files.place),
  }
}

function ticketKeyFilesStatus(f: TicketKeyFilesStats, place: TicketKeyFilesPlace): TicketKeyFilesStatus {
  const hook = f.lastHook
  return {
    writes: f.writes,
    writeErrors: f.writeErrors,
    current: f.current,
    lastWriteAt: f.lastWriteAt,
    lastWriteError: f.lastWriteError,
    hookRuns: f.hookRuns,
    hookFailures: f.hookFailures,
    lastHook:
      hook === null
        ? null
        : { code: hook.code, signal: hook.signal, timedOut: hook.timedOut, durationMs: hook.durationMs },
    dir: place.dir,
    format: place.format,
    slots: place.slots,
  }
}
