import {
  ADMIN_API_VERSION,
  type DaemonStatus,
  type MemcacheStatus,
  type PeersDocument,
  type Readiness,
  type ReadinessReason,
  type TicketKeyFilesStatus,
  type TicketKeysRealmStatus,
} from '@tlsmesh/admin-api'
import type { MemcacheTotals } from '@tlsmesh/memcache'
import type { MeshNode, MeshStatus } from '@tlsmesh/mesh'
import { Counter, Gauge, type Registry } from 'prom-client'
import { meshDegree, meshFields, peerEntry } from './admin-documents.ts'

/**
 * Ready: joined the mesh (a mesh peer in every realm that a connected peer serves, or alone with no
 * seeds to join through: the first node of a fleet) and the first catch-up done (a reconciliation
 * it started succeeded, or one a peer started with it ran to the end, or there is no peer to catch
 * up from). Until then a node's replica may miss sessions
 * the fleet holds. A realm no connected peer serves has no mesh to join and nobody to catch up from
 * (a `--ticket-keys` realm next to peers without it, a realm this node is the first to serve): it
 * would keep the node unready forever, so it is left out. With
 * `--ticket-keys`, also holding each realm's current ticket key (and the next one once it is due),
 * and with `--ticket-keys-dir`, the files written once: a server started before that would make
 * tickets no other server can open.
 */
export function readiness(
  status: MeshStatus,
  init: { seeds: number; ticketKeys?: Record<string, TicketKeysRealmStatus> },
): Readiness {
  if (status.uptimeMs === 0 && status.listenAddrs.length === 0) {
    return { ready: false, reasons: [{ code: 'not-started', message: 'the mesh node has not started' }] }
  }
  const reasons = [...meshReasons(status, init.seeds), ...ticketKeyReasons(init.ticketKeys ?? {})]
  return { ready: reasons.length === 0, reasons }
}

function meshReasons(status: MeshStatus, seeds: number): ReadinessReason[] {
  const reasons: ReadinessReason[] = []
  if (status.connectedPeers === 0) {
    if (seeds > 0) {
      reasons.push({
        code: 'no-peers',
        message: `no peer connected: none of the ${seeds} seed(s) reached yet`,
      })
    }
    return reasons
  }
  const realms = Object.entries(status.realms)
  // No subscriber anywhere: the peers' subscriptions have not arrived yet (they come just after the
  // connection), or the peers serve none of this node's realms. Either way every realm waits.
  const known = realms.some(([, r]) => r.subscribers > 0)
  for (const [realm, r] of realms) {
    if (known && r.subscribers === 0) continue
    if (r.meshPeers === 0) {
      reasons.push({
        code: 'no-mesh-peers',
        realm,
        message: `realm ${realm}: no gossip mesh peer yet (${r.subscribers} peer(s) subscribed)`,
      })
    }
  }
  const sync = status.sync
  if (sync.succeeded === 0 && sync.servedCompleted === 0) {
    reasons.push({
      code: 'catch-up-pending',
      message: sync.running
        ? 'first catch-up with a peer running'
        : `first catch-up with a peer not done yet (${sync.failed} failed)`,
    })
  }
  return reasons
}

function ticketKeyReasons(ticketKeys: Record<string, TicketKeysRealmStatus>): ReadinessReason[] {
  const reasons: ReadinessReason[] = []
  for (const [realm, t] of Object.entries(ticketKeys)) {
    if (!t.ready) {
      reasons.push({
        code: 'ticket-keys-pending',
        realm,
        message:
          t.current === null
            ? `realm ${realm}: no current ticket key yet (waiting for the peers' keys; a node proposes its own only after a short grace)`
            : `realm ${realm}: the next ticket key is due and not held yet`,
      })
    }
    if (t.files !== null && t.files.current === null) {
      reasons.push({
        code: 'ticket-key-files-pending',
        realm,
        message: `realm ${realm}: ticket key files not written yet in ${t.files.dir}${t.files.lastWriteError !== null ? ` (${t.files.lastWriteError})` : ''}`,
      })
    }
  }
  return reasons
}

export interface StatusComponents {
  mesh: MeshNode
  registry: Registry
  version: string
  realms: readonly string[]
  /** The memcached endpoint's realm and counts; absent without one. */
  memcache?: { realm: string; totals(): MemcacheTotals }
  /** Read on every request: SIGHUP may change them. */
  settings: () => { seeds: number; logLevel: string; transportThread: boolean }
  /** Per realm of `--ticket-keys`; absent without. */
  ticketKeys?: () => Record<string, TicketKeysRealmStatus>
}

/** What `/readyz` answers and `/status` carries. */
export function currentReadiness(components: StatusComponents): Readiness {
  return readiness(components.mesh.status(), {
    seeds: components.settings().seeds,
    ticketKeys: components.ticketKeys?.() ?? {},
  })
}

function memcacheStatus(memcache: StatusComponents['memcache']): MemcacheStatus | null {
  if (memcache === undefined) return null
  const { hits, misses, commands, connections, errors } = memcache.totals()
  return { realm: memcache.realm, lookups: hits + misses, hits, misses, commands, connections, errors }
}

/** The `/status` document: the mesh's own status plus what an operator needs to judge it. */
export async function buildStatus(components: StatusComponents): Promise<DaemonStatus> {
  const { mesh } = components
  const status = mesh.status()
  const settings = components.settings()
  const limits = mesh.store.limits
  const ticketKeys = components.ticketKeys?.() ?? {}
  return {
    schema: ADMIN_API_VERSION,
    version: components.version,
    time: Date.now(),
    ...meshFields(status),
    meshDegree: meshDegree(mesh.meshDegree()),
    replicaLimits: {
      maxBytesPerRealm: limits.maxBytesPerRealm,
      maxEntriesPerRealm: limits.maxEntriesPerRealm,
    },
    memcache: memcacheStatus(components.memcache),
    seeds: settings.seeds,
    logLevel: settings.logLevel,
    transportThread: settings.transportThread,
    ticketKeys,
    readiness: readiness(status, { seeds: settings.seeds, ticketKeys }),
  }
}

export async function buildPeers(components: StatusComponents): Promise<PeersDocument> {
  const { mesh } = components
  const report = await mesh.peers()
  return {
    schema: ADMIN_API_VERSION,
    peerId: mesh.peerId.toString(),
    realms: [...components.realms],
    meshDegree: meshDegree(report.meshDegree),
    peers: report.peers.map(peerEntry),
  }
}

/**
 * Metrics the daemon adds to the mesh's: per-realm gauges (the realm label is bounded by the
 * configured realms), readiness, catch-up, reloads. Each is skipped if the mesh already registers the
 * same name, so that a later mesh release cannot make start-up fail on a duplicate.
 */
export function registerDaemonMetrics(
  registry: Registry,
  components: StatusComponents,
): { reloads: (result: 'applied' | 'failed') => void } {
  const registers = [registry]
  const free = (name: string): boolean => registry.getSingleMetric(name) === undefined
  const perRealm = (
    name: string,
    help: string,
    read: (status: MeshStatus, realm: string) => number,
  ): void => {
    if (!free(name)) return
    new Gauge({
      name,
      help,
      labelNames: ['realm'],
      registers,
      collect() {
        const status = components.mesh.status()
        for (const realm of components.realms) this.set({ realm }, read(status, realm))
      },
    })
  }
  perRealm(
    'tlsmesh_realm_mesh_peers',
    'Peers in the gossip mesh of the realm (gossipsub aims at D, grafts below Dlo)',
    (s, realm) => s.realms[realm]?.meshPeers ?? 0,
  )
  perRealm(
    'tlsmesh_realm_replica_entries',
    'Records held for the realm',
    (s, realm) => s.realms[realm]?.entries ?? 0,
  )
  perRealm(
    'tlsmesh_realm_replica_bytes',
    'Accounted bytes held for the realm',
    (s, realm) => s.realms[realm]?.bytes ?? 0,
  )
  // One budget for every realm today, but labelled like its siblings so that
  // `tlsmesh_realm_replica_bytes / tlsmesh_realm_replica_budget_bytes` matches series one to one.
  perRealm(
    'tlsmesh_realm_replica_budget_bytes',
    'Byte budget of each realm; the least recently used records are evicted beyond it',
    () => components.mesh.store.limits.maxBytesPerRealm,
  )
  if (free('tlsmesh_daemon_ready')) {
    new Gauge({
      name: 'tlsmesh_daemon_ready',
      help: '1 when /readyz answers 200 (joined the mesh, first catch-up done, ticket keys held)',
      registers,
      collect() {
        this.set(currentReadiness(components).ready ? 1 : 0)
      },
    })
  }
  if (free('tlsmesh_daemon_info')) {
    new Gauge({
      name: 'tlsmesh_daemon_info',
      help: 'Always 1; the version as a label',
      labelNames: ['version'],
      registers,
    }).set({ version: components.version }, 1)
  }
  if (free('tlsmesh_sync_reconciliations_total')) {
    new Counter({
      name: 'tlsmesh_sync_reconciliations_total',
      help: 'Catch-up reconciliations this node started, by result',
      labelNames: ['result'],
      registers,
      collect() {
        const { sync } = components.mesh.status()
        this.reset()
        this.inc({ result: 'succeeded' }, sync.succeeded)
        this.inc({ result: 'failed' }, sync.failed)
      },
    })
  }
  if (free('tlsmesh_sync_records_total')) {
    new Counter({
      name: 'tlsmesh_sync_records_total',
      help: 'Records moved by catch-up reconciliations, by direction',
      labelNames: ['direction'],
      registers,
      collect() {
        const { sync } = components.mesh.status()
        this.reset()
        this.inc({ direction: 'pulled' }, sync.recordsPulled)
        this.inc({ direction: 'pushed' }, sync.recordsPushed)
      },
    })
  }
  if (components.ticketKeys !== undefined) registerTicketKeyMetrics(registry, components.ticketKeys)
  const reloads = new Counter({
    name: 'tlsmesh_daemon_reloads_total',
    help: 'SIGHUP reloads, by result',
    labelNames: ['result'],
    registers,
  })
  reloads.inc({ result: 'applied' }, 0)
  reloads.inc({ result: 'failed' }, 0)
  return { reloads: (result) => reloads.inc({ result }) }
}

/**
 * Ticket key metrics, per realm of `--ticket-keys` (a bounded label). Counters are read from the
 * schedules' own counts at scrape time, like the catch-up ones.
 */
export function registerTicketKeyMetrics(
  registry: Registry,
  read: () => Record<string, TicketKeysRealmStatus>,
): void {
  const registers = [registry]
  const free = (name: string): boolean => registry.getSingleMetric(name) === undefined
  const gauge = (
    name: string,
    help: string,
    value: (t: TicketKeysRealmStatus) => number | undefined,
  ): void => {
    if (!free(name)) return
    new Gauge({
      name,
      help,
      labelNames: ['realm'],
      registers,
      collect() {
        this.reset()
        for (const [realm, t] of Object.entries(read())) {
          const v = value(t)
          if (v !== undefined) this.set({ realm }, v)
        }
      },
    })
  }
  const counter = (name: string, help: string, value: (t: TicketKeysRealmStatus) => number): void => {
    if (!free(name)) return
    new Counter({
      name,
      help,
      labelNames: ['realm'],
      registers,
      collect() {
        this.reset()
        for (const [realm, t] of Object.entries(read())) this.inc({ realm }, value(t))
      },
    })
  }
  gauge(
    'tlsmesh_ticket_keys_held',
    'Ticket keys held: current, next, older ones still decrypting',
    (t) => t.held,
  )
  // No series while there is no current key: an age of 0 would read as freshly rotated.
  gauge(
    'tlsmesh_ticket_key_age_seconds',
    'Age of the encrypting ticket key (below the rotation interval)',
    (t) => (t.current === null ? undefined : t.current.ageMs / 1000),
  )
  gauge(
    'tlsmesh_ticket_key_rotation_seconds',
    'Configured rotation interval of the ticket keys',
    (t) => t.rotationMs / 1000,
  )
  gauge('tlsmesh_ticket_keys_ready', '1 when the current ticket key (and the next, once due) is held', (t) =>
    t.ready ? 1 : 0,
  )
  counter('tlsmesh_ticket_key_rotations_total', 'Times the encrypting ticket key changed', (t) => t.rotations)
  counter(
    'tlsmesh_ticket_key_proposals_total',
    'Ticket keys this node generated and proposed',
    (t) => t.proposed,
  )
  counter(
    'tlsmesh_ticket_key_replaced_total',
    'Ticket keys held and then replaced by a competing proposal (kept to decrypt)',
    (t) => t.replaced,
  )
  /** A counter by realm and result, over realms that write key files. */
  const fileCounter = (
    name: string,
    help: string,
    counts: (files: TicketKeyFilesStatus) => { ok: number; failed: number },
  ): void => {
    if (!free(name)) return
    new Counter({
      name,
      help,
      labelNames: ['realm', 'result'],
      registers,
      collect() {
        this.reset()
        for (const [realm, t] of Object.entries(read())) {
          if (t.files === null) continue
          const { ok, failed } = counts(t.files)
          this.inc({ realm, result: 'ok' }, ok)
          this.inc({ realm, result: 'failed' }, failed)
        }
      },
    })
  }
  fileCounter(
    'tlsmesh_ticket_key_file_writes_total',
    'Writes of the nginx/HAProxy key files, by result',
    (f) => ({
      ok: f.writes,
      failed: f.writeErrors,
    }),
  )
  fileCounter('tlsmesh_ticket_key_hook_runs_total', 'Runs of --on-ticket-keys, by result', (f) => ({
    ok: f.hookRuns - f.hookFailures,
    failed: f.hookFailures,
  }))
}
