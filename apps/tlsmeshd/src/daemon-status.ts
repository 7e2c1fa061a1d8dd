import {
  DEFAULT_GOSSIP_D,
  DEFAULT_GOSSIP_DHI,
  DEFAULT_GOSSIP_DLO,
  type MeshDegreeTargets,
  type MeshNode,
  type MeshStatus,
  meshDegreeOf,
  reportPeers,
} from '@tlsmesh/mesh'
import { Counter, Gauge, type Registry } from 'prom-client'
import {
  type DaemonStatus,
  type MemcacheStatus,
  type PeersDocument,
  type Readiness,
  type ReadinessReason,
  STATUS_SCHEMA_VERSION,
} from './admin-schema.ts'

export const FALLBACK_DEGREE: MeshDegreeTargets = {
  D: DEFAULT_GOSSIP_D,
  Dlo: DEFAULT_GOSSIP_DLO,
  Dhi: DEFAULT_GOSSIP_DHI,
}

/**
 * Ready: joined the mesh (a mesh peer in every realm, or alone with no seeds to join through: the
 * first node of a fleet) and the first catch-up done (a reconciliation succeeded, or there is no
 * peer to catch up from). Until then a node's replica may miss sessions the fleet holds.
 */
export function readiness(status: MeshStatus, init: { seeds: number }): Readiness {
  const reasons: ReadinessReason[] = []
  if (status.uptimeMs === 0 && status.listenAddrs.length === 0) {
    return { ready: false, reasons: [{ code: 'not-started', message: 'the mesh node has not started' }] }
  }
  if (status.connectedPeers === 0) {
    if (init.seeds > 0) {
      reasons.push({
        code: 'no-peers',
        message: `no peer connected: none of the ${init.seeds} seed(s) reached yet`,
      })
    }
    return { ready: reasons.length === 0, reasons }
  }
  for (const [realm, r] of Object.entries(status.realms)) {
    if (r.meshPeers === 0) {
      reasons.push({
        code: 'no-mesh-peers',
        realm,
        message: `realm ${realm}: no gossip mesh peer yet (${r.subscribers} peer(s) subscribed)`,
      })
    }
  }
  const sync = status.sync
  if (sync.succeeded === 0) {
    reasons.push({
      code: 'catch-up-pending',
      message: sync.running
        ? 'first catch-up with a peer running'
        : `first catch-up with a peer not done yet (${sync.failed} failed)`,
    })
  }
  return { ready: reasons.length === 0, reasons }
}

export interface StatusComponents {
  mesh: MeshNode
  registry: Registry
  version: string
  realms: readonly string[]
  meshName: string
  memcacheRealm: string | undefined
  /** Read on every request: SIGHUP may change them. */
  settings: () => { seeds: number; logLevel: string }
}

async function counterTotal(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const data = await metric.get()
  return data.values.reduce((sum, v) => sum + v.value, 0)
}

async function memcacheStatus(registry: Registry, realm: string | undefined): Promise<MemcacheStatus | null> {
  if (realm === undefined) return null
  const [hits, misses, commands, connections, errors] = await Promise.all([
    counterTotal(registry, 'tlsmesh_memcache_hits_total'),
    counterTotal(registry, 'tlsmesh_memcache_misses_total'),
    counterTotal(registry, 'tlsmesh_memcache_commands_total'),
    counterTotal(registry, 'tlsmesh_memcache_connections'),
    counterTotal(registry, 'tlsmesh_memcache_errors_total'),
  ])
  return { realm, lookups: hits + misses, hits, misses, commands, connections, errors }
}

/** The `/status` document: the mesh's own status plus what an operator needs to judge it. */
export async function buildStatus(components: StatusComponents): Promise<DaemonStatus> {
  const { mesh } = components
  const status = mesh.status()
  const settings = components.settings()
  const limits = mesh.store.limits
  return {
    schema: STATUS_SCHEMA_VERSION,
    version: components.version,
    time: Date.now(),
    ...status,
    meshDegree: meshDegreeOf(mesh.libp2p.services.pubsub, FALLBACK_DEGREE),
    replicaLimits: {
      maxBytesPerRealm: limits.maxBytesPerRealm,
      maxEntriesPerRealm: limits.maxEntriesPerRealm,
    },
    memcache: await memcacheStatus(components.registry, components.memcacheRealm),
    seeds: settings.seeds,
    logLevel: settings.logLevel,
    readiness: readiness(status, { seeds: settings.seeds }),
  }
}

export async function buildPeers(components: StatusComponents): Promise<PeersDocument> {
  const { mesh } = components
  const report = await reportPeers(mesh.libp2p, mesh.libp2p.services.pubsub, {
    meshName: components.meshName,
    realms: components.realms,
    fallbackDegree: FALLBACK_DEGREE,
  })
  return {
    schema: STATUS_SCHEMA_VERSION,
    peerId: mesh.peerId.toString(),
    realms: [...components.realms],
    ...report,
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
  if (free('tlsmesh_realm_replica_budget_bytes')) {
    new Gauge({
      name: 'tlsmesh_realm_replica_budget_bytes',
      help: 'Byte budget of each realm; the least recently used records are evicted beyond it',
      registers,
      collect() {
        this.set(components.mesh.store.limits.maxBytesPerRealm)
      },
    })
  }
  if (free('tlsmesh_daemon_ready')) {
    new Gauge({
      name: 'tlsmesh_daemon_ready',
      help: '1 when /readyz answers 200 (joined the mesh, first catch-up done)',
      registers,
      collect() {
        const ready = readiness(components.mesh.status(), { seeds: components.settings().seeds }).ready
        this.set(ready ? 1 : 0)
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
