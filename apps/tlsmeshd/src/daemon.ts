import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import {
  createMemcacheServer,
  type MemcacheServer,
  replicaCacheUsage,
  resolveUserIds,
  UnknownUserError,
} from '@tlsmesh/memcache'
import {
  createMeshNode,
  type KeyFileInit,
  KeyFilePermissionsError,
  loadOrCreateIdentity,
  type MeshNode,
  readMeshKeyFile,
} from '@tlsmesh/mesh'
import { DEFAULT_MAX_TTL_MS } from '@tlsmesh/store'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createAdminServer } from './admin-server.ts'
import { CONFIG_FIELDS, FIELD_NAMES, type FieldName, type Origin } from './config-fields.ts'
import { type DaemonOptions, InvalidOptionError } from './daemon-options.ts'
import { registerDaemonMetrics, type StatusComponents } from './daemon-status.ts'
import {
  DaemonTicketKeys,
  prepareTicketKeyDir,
  ticketKeyContests,
  ticketKeyRealms,
  ticketKeyRecordTtl,
  ticketKeySigners,
} from './daemon-ticket-keys.ts'
import { PACKAGE_VERSION } from './version.ts'

export const VERSION = PACKAGE_VERSION

/** What a reload did: settings applied, and settings that differ but need a restart. */
export interface ReloadResult {
  applied: string[]
  needsRestart: string[]
  seedsAdded: string[]
  seedsRemoved: string[]
}

export interface Daemon {
  mesh: MeshNode
  memcache: MemcacheServer | undefined
  /** With `--ticket-keys`: the schedules and key files. */
  ticketKeys: DaemonTicketKeys | undefined
  adminAddress: { host: string; port: number }
  /** The options in force (after any reload). */
  readonly options: DaemonOptions
  /** Applies what can change without a restart (log level, seeds); keeps the replica. */
  reload(next: DaemonOptions): ReloadResult
  /** Counts a reload whose new config was refused (the old one stays in force). */
  reloadFailed(): void
  /** Stops taking work (memcached, key files), the ticket key schedules, the mesh, the admin endpoint. */
  stop(): Promise<void>
}

/** The settings that differ between two option sets, by field name, in table order. */
export function changedFields(before: DaemonOptions, after: DaemonOptions): FieldName[] {
  const project = (o: DaemonOptions): Record<FieldName, unknown> => ({
    meshKeyFile: o.meshKeyFile,
    insecureDev: o.insecureDev,
    identityFile: o.identityFile,
    listen: o.listen,
    announce: o.announce,
    seeds: o.seeds,
    allowPeers: o.allowPeers,
    realms: o.realms,
    meshName: o.meshName,
    mdns: o.mdns,
    transportThread: o.transportThread,
    admin: o.admin,
    memcache: o.memcache?.tcp,
    memcacheSocket: o.memcache?.socketPath,
    memcacheRealm: o.memcache?.realm,
    memcacheAllowUsers: o.memcache?.allowUsers,
    replicaMaxBytes: o.replica.maxBytesPerRealm,
    replicaMaxEntries: o.replica.maxEntriesPerRealm,
    ticketKeys: o.ticketKeys?.realms,
    ticketKeyProposers: o.ticketKeys?.proposers,
    ticketKeyRotation: o.ticketKeys?.rotationMs,
    ticketKeyLifetime: o.ticketKeys?.decryptLifetimeMs,
    ticketKeysDir: o.ticketKeys?.files?.dir,
    ticketKeysFormat: o.ticketKeys?.files?.format,
    onTicketKeys: o.ticketKeys?.files?.hook,
    logLevel: o.logLevel,
    logFormat: o.logFormat,
  })
  const a = project(before)
  const b = project(after)
  return FIELD_NAMES.filter((name) => JSON.stringify(a[name]) !== JSON.stringify(b[name]))
}

/**
 * A mesh that can change its allowlist while running. MeshNode declares `setAllowPeers`; a mesh
 * without it leaves an allowlist change to a restart.
 */
interface AllowlistControl {
  setAllowPeers(peers: string[] | undefined): void
}

function allowlistControl(mesh: MeshNode): AllowlistControl | undefined {
  const candidate = mesh as MeshNode & Partial<AllowlistControl>
  return typeof candidate.setAllowPeers === 'function' ? (candidate as AllowlistControl) : undefined
}

/** Where the options came from and where systemd put credentials: for refusals at start-up. */
export interface DaemonStartContext {
  /** Where each setting came from (`--print-config`'s origins); a flag when absent. */
  origins?: Partial<Record<FieldName, Origin>>
  configFile?: string
  /** systemd's $CREDENTIALS_DIRECTORY, where `LoadCredential=` puts the mesh key. */
  credentialsDirectory?: string
  /** The mesh stopped working on its own (`--transport-thread`: its thread ended). */
  onMeshFailure?: (err: Error) => void
}

/** A key file setting as the operator wrote it: `--mesh-key PATH`, `TLSMESH_MESH_KEY_FILE=PATH`, ... */
function keyFileSetting(
  name: 'meshKeyFile' | 'identityFile',
  path: string,
  context: DaemonStartContext,
): string {
  const field = CONFIG_FIELDS[name]
  switch (context.origins?.[name]) {
    case 'env':
      return `${field.env}=${path}`
    case 'file':
      return `${field.key} ${path} (in ${context.configFile})`
    default:
      return `--${field.flag} ${path}`
  }
}

/**
 * Reads a key file through `read`, turning what the operator must fix (permissions too open, a file
 * that cannot be read or made) into an InvalidOptionError naming the setting: exit 2, one line.
 */
async function readKeySetting<T>(
  name: 'meshKeyFile' | 'identityFile',
  path: string,
  context: DaemonStartContext,
  read: (path: string, init: KeyFileInit) => Promise<T>,
): Promise<T> {
  const init =
    context.credentialsDirectory !== undefined ? { credentialsDirectory: context.credentialsDirectory } : {}
  try {
    return await read(path, init)
  } catch (err) {
    const setting = keyFileSetting(name, path, context)
    if (err instanceof KeyFilePermissionsError) throw new InvalidOptionError(`${setting}: ${err.reason}`)
    const { code, syscall } = err as NodeJS.ErrnoException
    // A system call's failure (ENOENT, EACCES, EISDIR...): the path is wrong, not the program.
    if (syscall !== undefined) {
      const what = name === 'meshKeyFile' ? 'cannot read it' : 'cannot read or create it'
      throw new InvalidOptionError(`${setting}: ${what} (${code ?? syscall})`)
    }
    throw err
  }
}

/**
 * `--memcache-allow-user` names to uids, once, before anything starts: a name that is not a user
 * here is a setting to fix (InvalidOptionError), not a failure found after the mesh is up.
 */
async function resolveMemcacheUsers(options: DaemonOptions): Promise<number[] | undefined> {
  const users = options.memcache?.allowUsers
  if (users === undefined) return undefined
  try {
    return [...(await resolveUserIds(users)).values()]
  } catch (err) {
    if (!(err instanceof UnknownUserError)) throw err
    throw new InvalidOptionError(`--${CONFIG_FIELDS.memcacheAllowUsers.flag}: ${err.message}`)
  }
}

/** Wires the packages together from checked options and starts them. */
export async function startDaemon(
  options: DaemonOptions,
  logger: Logger,
  context: DaemonStartContext = {},
): Promise<Daemon> {
  const log = logger.child({ module: 'daemon' })
  // Key files first: a refusal must come before anything listens.
  const meshKey =
    options.meshKeyFile !== undefined
      ? await readKeySetting('meshKeyFile', options.meshKeyFile, context, readMeshKeyFile)
      : undefined
  const privateKey =
    options.identityFile !== undefined
      ? await readKeySetting('identityFile', options.identityFile, context, loadOrCreateIdentity)
      : undefined
  if (meshKey === undefined)
    log.warn('running without a mesh key (--insecure-dev): anyone who reaches the port can join')
  const registry = new Registry()
  // Node's own metrics under their standard names (process_*, nodejs_*), which stock Node dashboards
  // and alerts query.
  collectDefaultMetrics({ register: registry })
  // Before anything starts: a directory that cannot be made is a start-up failure, not a warning later.
  const keyFiles = options.ticketKeys?.files
  if (keyFiles !== undefined) await prepareTicketKeyDir(keyFiles.dir, logger.child({ module: 'ticket-keys' }))

  let ticketKeys: DaemonTicketKeys | undefined
  const memcacheAllowUids = await resolveMemcacheUsers(options)
  const mesh = await createMeshNode(
    {
      ...(meshKey !== undefined ? { meshKey } : { insecureDev: true }),
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(options.meshName !== undefined ? { meshName: options.meshName } : {}),
      listen: options.listen,
      ...(options.announce !== undefined ? { announce: options.announce } : {}),
      seeds: options.seeds,
      ...(options.allowPeers !== undefined ? { allowPeers: options.allowPeers } : {}),
      // The ticket keys of realm R travel in R.tickets, a realm like any other.
      realms: [...options.realms, ...ticketKeyRealms(options.ticketKeys)],
      mdns: options.mdns,
      libp2pMetrics: true,
      ...(options.transportThread ? { transportThread: true } : {}),
      store: {
        maxBytesPerRealm: options.replica.maxBytesPerRealm,
        maxEntriesPerRealm: options.replica.maxEntriesPerRealm,
        // Raised only if a key record lives longer than the 24 h cap (it does not with the defaults).
        maxTtlMs: Math.max(DEFAULT_MAX_TTL_MS, ticketKeyRecordTtl(options.ticketKeys)),
        contested: ticketKeyContests(options.ticketKeys),
      },
      realmSigners: ticketKeySigners(options.ticketKeys),
    },
    {
      registry,
      logger,
      ...(context.onMeshFailure !== undefined ? { onFailure: context.onMeshFailure } : {}),
    },
  )
  // A key record from a peer, by gossip or by catch-up, is read at once rather than at the next poll.
  mesh.store.watch({
    stored: (record, source) => {
      if (source !== 'local') ticketKeys?.noticeRecord(record.realm)
    },
    removed: () => {},
  })
  await mesh.start()

  if (options.ticketKeys !== undefined) {
    ticketKeys = new DaemonTicketKeys(options.ticketKeys, {
      cache: mesh.cache,
      peerId: mesh.peerId.toString(),
      logger: logger.child({ module: 'ticket-keys' }),
    })
    await ticketKeys.start()
  }

  let memcache: MemcacheServer | undefined
  if (options.memcache !== undefined) {
    memcache = createMemcacheServer(
      {
        ...(options.memcache.tcp !== undefined ? options.memcache.tcp : {}),
        ...(options.memcache.socketPath !== undefined ? { socketPath: options.memcache.socketPath } : {}),
        realm: options.memcache.realm,
        ...(memcacheAllowUids !== undefined ? { allowUids: memcacheAllowUids } : {}),
        version: `tlsmesh-${VERSION}`,
      },
      {
        cache: mesh.cache,
        registry,
        logger: logger.child({ module: 'memcache' }),
        // `stats` reads the served realm's items and bytes from the replica.
        cacheUsage: replicaCacheUsage(mesh.store, options.memcache.realm),
      },
    )
    try {
      await memcache.start()
    } catch (err) {
      await ticketKeys?.stop()
      await mesh.stop()
      throw err
    }
  }

  let current = options
  const statusComponents: StatusComponents = {
    mesh,
    registry,
    version: VERSION,
    realms: [...options.realms, ...ticketKeyRealms(options.ticketKeys)],
    ...(memcache !== undefined && options.memcache !== undefined
      ? { memcache: { realm: options.memcache.realm, totals: () => memcache.totals() } }
      : {}),
    settings: () => ({
      seeds: current.seeds.length,
      logLevel: logger.level,
      transportThread: current.transportThread,
    }),
    ...(ticketKeys !== undefined ? { ticketKeys: () => ticketKeys.status() } : {}),
  }
  const metrics = registerDaemonMetrics(registry, statusComponents)
  const admin = createAdminServer({ ...statusComponents, logger: logger.child({ module: 'admin' }) })
  admin.listen(options.admin.port, options.admin.host)
  try {
    await once(admin, 'listening')
  } catch (err) {
    await memcache?.stop()
    await ticketKeys?.stop()
    await mesh.stop()
    throw err
  }
  const address = admin.address() as AddressInfo
  log.info({ admin: `${address.address}:${address.port}` }, 'admin listening')

  return {
    mesh,
    memcache,
    ticketKeys,
    adminAddress: { host: address.address, port: address.port },
    get options() {
      return current
    },
    reload(next) {
      const changed = changedFields(current, next)
      const seedsAdded = next.seeds.filter((s) => !current.seeds.includes(s))
      const seedsRemoved = current.seeds.filter((s) => !next.seeds.includes(s))
      const allowlist = allowlistControl(mesh)
      const canApply = (name: FieldName): boolean =>
        CONFIG_FIELDS[name].reloadable === true && (name !== 'allowPeers' || allowlist !== undefined)
      const applied = changed.filter(canApply)
      const needsRestart = changed.filter((name) => !canApply(name))
      const result: ReloadResult = {
        applied: applied.map((name) => CONFIG_FIELDS[name].key),
        needsRestart: needsRestart.map((name) => CONFIG_FIELDS[name].key),
        seedsAdded,
        seedsRemoved,
      }
      // Logged before a new level applies: a reload to `warn` still says what it changed.
      log.info(
        {
          ...(applied.includes('logLevel')
            ? { logLevel: { from: current.logLevel, to: next.logLevel } }
            : {}),
          ...(applied.includes('seeds') ? { seedsAdded, seedsRemoved } : {}),
          ...(applied.includes('allowPeers') ? { allowPeers: next.allowPeers?.length ?? 'any' } : {}),
          applied: result.applied,
          needsRestart: result.needsRestart,
        },
        changed.length === 0 ? 'reload: nothing changed' : 'reload: configuration re-read',
      )
      if (needsRestart.length > 0) {
        log.warn(
          { settings: result.needsRestart },
          'reload: these settings changed but apply only after a restart; still running with the old values',
        )
      }
      if (applied.includes('logLevel')) logger.level = next.logLevel
      // New seeds are dialed at once; removed ones keep their connections until they drop, like any peer's.
      if (seedsAdded.length > 0 || seedsRemoved.length > 0) mesh.setSeeds(next.seeds)
      if (applied.includes('allowPeers')) allowlist?.setAllowPeers(next.allowPeers)
      // What needs a restart keeps its old value, so that /status and the next diff tell the truth.
      current = {
        ...current,
        logLevel: next.logLevel,
        seeds: next.seeds,
        allowPeers: applied.includes('allowPeers') ? next.allowPeers : current.allowPeers,
      }
      metrics.reloads('applied')
      return result
    },
    reloadFailed() {
      metrics.reloads('failed')
    },
    async stop() {
      // Stop taking work first (the memcached endpoint, the key files: a write or hook under way
      // finishes), then the schedules, then leave the mesh, then close the admin endpoint.
      await memcache?.stop()
      await ticketKeys?.stop()
      await mesh.stop()
      admin.closeAllConnections()
      await new Promise<void>((resolve) => admin.close(() => resolve()))
    },
  }
}
