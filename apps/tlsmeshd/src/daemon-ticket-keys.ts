import { mkdir, readFile, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { TicketKeysRealmStatus } from '@tlsmesh/admin-api'
import type { ContestRule, Logger, SessionCache } from '@tlsmesh/store'
import {
  type AttachedTicketKeyFiles,
  attachTicketKeyFiles,
  createTicketKeySchedule,
  HAPROXY_KEY_FILE,
  nginxTicketKeyDirectives,
  type TicketKeySchedule,
  ticketKeyContestRule,
  ticketKeyRealm,
  ticketKeyRecordTtlMs,
} from '@tlsmesh/ticket-keys'
import { ticketKeysRealmStatus } from './admin-documents.ts'
import type { TicketKeysOptions } from './daemon-options.ts'

/** File systems whose files live in memory only (tmpfs pages may still reach swap: the README says so). */
const MEMORY_FILE_SYSTEMS = new Set(['tmpfs', 'ramfs'])

/** The realms the mesh must also serve: `<realm>.tickets` for each realm of `--ticket-keys`. */
export function ticketKeyRealms(options: TicketKeysOptions | undefined): string[] {
  return options?.realms.map(ticketKeyRealm) ?? []
}

/** Who may sign key records, per key realm, when `--ticket-key-proposer` lists them. */
export function ticketKeySigners(options: TicketKeysOptions | undefined): Record<string, string[]> {
  const signers: Record<string, string[]> = {}
  if (options?.proposers === undefined) return signers
  for (const realm of options.realms) signers[ticketKeyRealm(realm)] = options.proposers
  return signers
}

/** The replica's rule for competing key proposals, per key realm (see `ticketKeyContestRule`). */
export function ticketKeyContests(options: TicketKeysOptions | undefined): Record<string, ContestRule> {
  const rules: Record<string, ContestRule> = {}
  for (const realm of options?.realms ?? []) {
    rules[ticketKeyRealm(realm)] = ticketKeyContestRule({
      realm,
      rotationMs: options!.rotationMs,
      decryptLifetimeMs: options!.decryptLifetimeMs,
    })
  }
  return rules
}

/**
 * The longest a key record lives (ahead + rotation + lifetime): the replica's TTL cap must allow it,
 * or key records would be cut short here and refused by peers (`ttl-too-long`). Every node of the
 * realm runs with the same durations, so every node raises its cap alike.
 */
export function ticketKeyRecordTtl(options: TicketKeysOptions | undefined): number {
  if (options === undefined) return 0
  return ticketKeyRecordTtlMs({
    realm: options.realms[0]!,
    rotationMs: options.rotationMs,
    decryptLifetimeMs: options.decryptLifetimeMs,
  })
}

/** Undoes /proc/mounts' octal escapes (`\040` for a space in a mount point). */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))
}

/** The mount holding `path` (already resolved: no symlinks), from the text of /proc/mounts. */
export function mountOf(path: string, mounts: string): { mountPoint: string; fsType: string } | undefined {
  let best: { mountPoint: string; fsType: string } | undefined
  for (const line of mounts.split('\n')) {
    const fields = line.split(' ')
    if (fields.length < 3) continue
    const mountPoint = unescapeMount(fields[1]!)
    const inside =
      mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint.replace(/\/$/, '')}/`)
    // A later line for the same mount point is mounted over the earlier one.
    if (inside && (best === undefined || mountPoint.length >= best.mountPoint.length)) {
      best = { mountPoint, fsType: fields[2]! }
    }
  }
  return best
}

export interface TicketKeyDirCheck {
  /** Permission bits of the directory. */
  mode: number
  /** Undefined when /proc/mounts could not be read. */
  mount: { mountPoint: string; fsType: string } | undefined
  inMemory: boolean | undefined
}

/**
 * Makes `--ticket-keys-dir` (mode 0700 when it creates it) and says what is wrong with it: keys on a
 * disk outlive their lifetime (freed blocks, snapshots, backups), and a directory others can enter
 * shows them the files (the files themselves are 0600).
 */
export async function prepareTicketKeyDir(
  dir: string,
  logger: Logger,
  readMounts: () => Promise<string> = () => readFile('/proc/mounts', 'utf8'),
): Promise<TicketKeyDirCheck> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const mode = (await stat(dir)).mode & 0o777
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { dir, mode: `0${mode.toString(8)}` },
      'ticket key directory is open to other users: make it mode 0700 (the key files are 0600, but their names and times show)',
    )
  }
  let mount: TicketKeyDirCheck['mount']
  try {
    mount = mountOf(await realpath(dir), await readMounts())
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'cannot tell the file system of the ticket key directory')
  }
  const inMemory = mount === undefined ? undefined : MEMORY_FILE_SYSTEMS.has(mount.fsType)
  if (inMemory === false) {
    logger.warn(
      { dir, fsType: mount!.fsType, mountPoint: mount!.mountPoint },
      'ticket key directory is not on tmpfs: the keys are written to a disk, where copies can outlive their lifetime (freed blocks, snapshots, backups); put it on tmpfs, e.g. under /run',
    )
  }
  return { mode, mount, inMemory }
}

interface RealmKeys {
  realm: string
  schedule: TicketKeySchedule
  files: AttachedTicketKeyFiles | undefined
  dir: string | undefined
  refreshQueued: boolean
}

export interface DaemonTicketKeysComponents {
  /** The mesh's cache: key records travel as records of `<realm>.tickets`. */
  cache: SessionCache
  /** This node's peer id: it proposes keys only if it is among `proposers`. */
  peerId: string
  logger: Logger
}

/**
 * The daemon's ticket keys: a schedule per realm of `--ticket-keys` over the mesh's cache, and when
 * `--ticket-keys-dir` is given, the files for nginx or HAProxy in `DIR/<realm>/` plus the hook.
 */
export class DaemonTicketKeys {
  readonly options: TicketKeysOptions
  readonly keyRealms: readonly string[]
  readonly #realms: RealmKeys[]
  readonly #byKeyRealm = new Map<string, RealmKeys>()
  readonly #logger: Logger
  #started = false

  constructor(options: TicketKeysOptions, components: DaemonTicketKeysComponents) {
    this.options = options
    this.#logger = components.logger
    this.keyRealms = ticketKeyRealms(options)
    this.#realms = options.realms.map((realm) => {
      const log = components.logger.child({ realm })
      const schedule = createTicketKeySchedule(
        {
          realm,
          rotationMs: options.rotationMs,
          decryptLifetimeMs: options.decryptLifetimeMs,
          // The daemon raises the replica's cap to this (see ticketKeyRecordTtl).
          maxTtlMs: Number.MAX_SAFE_INTEGER,
          proposes: options.proposers === undefined || options.proposers.includes(components.peerId),
        },
        {
          cache: components.cache,
          onError: (err) =>
            log.warn({ err: (err as Error).message }, 'ticket key schedule: reading or proposing failed'),
        },
      )
      const entry: RealmKeys = {
        realm,
        schedule,
        files: undefined,
        dir: options.files !== undefined ? join(options.files.dir, realm) : undefined,
        refreshQueued: false,
      }
      this.#byKeyRealm.set(schedule.keyRealm, entry)
      return entry
    })
  }

  /** Follows the schedules (and writes the files) from now on; call after the mesh has started. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    for (const entry of this.#realms) {
      const log = this.#logger.child({ realm: entry.realm })
      let replaced = 0
      entry.schedule.addEventListener('keys:changed', ({ detail }) => {
        const status = entry.schedule.status()
        if (status.replaced > replaced) {
          replaced = status.replaced
          log.warn(
            { replaced },
            'a ticket key held here lost to a competing proposal (a race or a healed partition): every node settles on the same winner; the replaced key still decrypts here',
          )
        }
        if (!detail.currentChanged) {
          log.debug({ keys: detail.keys.length }, 'ticket keys changed')
        } else if (detail.current === undefined) {
          log.warn(
            { keys: detail.keys.length },
            'no current ticket key: servers cannot share new tickets until one arrives',
          )
        } else {
          log.info(
            { current: detail.current.nameHex, period: detail.current.period, keys: detail.keys.length },
            'ticket key rotated',
          )
        }
      })
      const files = this.options.files
      if (files !== undefined && entry.dir !== undefined) {
        entry.files = attachTicketKeyFiles(
          entry.schedule,
          { dir: entry.dir, format: files.format, ...(files.hook !== undefined ? { hook: files.hook } : {}) },
          { logger: log },
        )
        if (files.format === 'nginx') {
          log.info(
            {
              dir: entry.dir,
              slots: entry.files.slots,
              directives: nginxTicketKeyDirectives(entry.dir, entry.files.slots).split('\n'),
            },
            'ticket key files for nginx: name every one of them in the server block (the first encrypts)',
          )
        } else {
          log.info(
            { dir: entry.dir, directive: `tls-ticket-keys ${join(entry.dir, HAPROXY_KEY_FILE)}` },
            'ticket key file for HAProxy: name it on the bind line',
          )
        }
      }
      await entry.schedule.start()
    }
  }

  /**
   * A record of `keyRealm` arrived from a peer (gossip or catch-up): re-read at once rather than at
   * the next poll (1 s), so that a node does not look unready, or propose a key of its own, while it
   * already holds the fleet's. Records of other realms are ignored.
   */
  noticeRecord(keyRealm: string): void {
    const entry = this.#byKeyRealm.get(keyRealm)
    if (entry === undefined || entry.refreshQueued || !this.#started) return
    entry.refreshQueued = true
    // Out of the store's merge: a refresh may propose and write files.
    setImmediate(() => {
      entry.refreshQueued = false
      if (this.#started) entry.schedule.refresh()
    })
  }

  /** Per realm, for `/status` (names and times, never key bytes). */
  status(): Record<string, TicketKeysRealmStatus> {
    const out: Record<string, TicketKeysRealmStatus> = {}
    for (const entry of this.#realms) {
      const files = entry.files
      const format = this.options.files?.format
      out[entry.realm] = ticketKeysRealmStatus(
        entry.schedule.status(),
        files === undefined || format === undefined
          ? null
          : { stats: files.stats, place: { dir: entry.dir!, format, slots: files.slots } },
      )
    }
    return out
  }

  /** Stops writing files (waiting for a write or hook under way), then stops the schedules. */
  async stop(): Promise<void> {
    this.#started = false
    await Promise.all(this.#realms.map((entry) => entry.files?.detach()))
    await Promise.all(this.#realms.map((entry) => entry.schedule.stop()))
  }
}
