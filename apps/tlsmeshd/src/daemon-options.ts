import { parseArgs } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { isValidUserName } from '@tlsmesh/memcache'
// The parser alone: the package's index loads libp2p, which --help and option errors need not wait for.
import { parseSeed } from '@tlsmesh/mesh/seed-address'
import { isValidRealm } from '@tlsmesh/store'
import {
  InvalidTicketKeyOptionError,
  TICKET_KEY_FILE_FORMATS,
  type TicketKeyFileFormat,
  ticketKeyRealm,
  ticketKeyRecordTtlMs,
} from '@tlsmesh/ticket-keys'
import {
  CONFIG_FIELDS,
  FIELD_NAMES,
  type FieldName,
  type Origin,
  type RawConfig,
  type RawValue,
} from './config-fields.ts'
import {
  CONFIG_FILE_ENV,
  DEFAULT_ADMIN,
  DEFAULT_LISTEN,
  DEFAULT_LOG_FORMAT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_REALM,
  DEFAULT_REPLICA_MAX_BYTES,
  DEFAULT_REPLICA_MAX_ENTRIES,
  DEFAULT_TICKET_KEY_LIFETIME_MS,
  DEFAULT_TICKET_KEY_ROTATION_MS,
  DEFAULT_TICKET_KEYS_FORMAT,
  ENV_PREFIX,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  MAX_REPLICA_MAX_BYTES,
  MAX_REPLICA_MAX_ENTRIES,
  MAX_TICKET_KEY_DURATION_MS,
  MIN_REPLICA_MAX_BYTES,
  MIN_TICKET_KEY_ROTATION_MS,
} from './constants.ts'

/** Plain data: what the daemon runs with, after every source is merged and checked. */
export interface DaemonOptions {
  meshKeyFile?: string
  insecureDev: boolean
  identityFile?: string
  listen: string[]
  /** Addresses advertised instead of the listen addresses (mDNS advertises every private one). */
  announce?: string[]
  seeds: string[]
  /** Peer ids that may connect and publish; absent: any holder of the mesh key. */
  allowPeers?: string[]
  realms: string[]
  meshName?: string
  mdns: boolean
  /** The mesh's transport on a worker thread (createMeshNode's `transportThread`). */
  transportThread: boolean
  admin: { host: string; port: number }
  /** The memcached endpoint: TCP on loopback and/or a unix socket; absent when neither is given. */
  memcache?: {
    tcp?: { host: string; port: number }
    socketPath?: string
    realm: string
    /** Local users whose processes may use the TCP endpoint; absent: any. Resolved at start-up. */
    allowUsers?: string[]
  }
  /** Budget of each realm's replica. */
  replica: { maxBytesPerRealm: number; maxEntriesPerRealm: number }
  /** TLS session ticket keys this node schedules; absent without `--ticket-keys`. */
  ticketKeys?: TicketKeysOptions
  logLevel: LogLevel
  logFormat: LogFormat
}

/** `--ticket-keys` and the settings that go with it. Every node of a realm needs the same durations. */
export interface TicketKeysOptions {
  /** Server realms (each one of `realms`); their keys travel in the realm `<realm>.tickets`. */
  realms: string[]
  rotationMs: number
  decryptLifetimeMs: number
  /** Key files for nginx or HAProxy in `dir/<realm>/`; absent: keys stay in memory and the mesh. */
  files?: { dir: string; format: TicketKeyFileFormat; hook?: string }
  /** Peer ids whose key proposals are taken (absent: any member's); a node not listed proposes none. */
  proposers?: string[]
}

/** A command-line, environment or config file value that is not allowed; the message names the field. */
export class InvalidOptionError extends Error {
  static override name = 'InvalidOptionError'
  override name = 'InvalidOptionError'
  readonly code = 'invalid-option'
}

/** What each source said, before merging: flags win over the environment, which wins over the file. */
export interface ConfigSources {
  flags: RawConfig
  env?: RawConfig
  file?: { path: string; values: RawConfig }
}

export interface ResolvedConfig {
  options: DaemonOptions
  origins: Record<FieldName, Origin>
  configFile: string | undefined
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * `30s`, `15m`, `1h`, `1h30m`, `500ms`: a unit is required, so that `3600` is not read as seconds by
 * one operator and milliseconds by another.
 */
export function parseDuration(field: string, value: string, min: number, max: number): number {
  const text = value.trim()
  let total = 0
  let rest = text
  for (const match of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    total += Number(match[1]) * DURATION_UNITS[match[2]!]!
    rest = rest.replace(match[0], '')
  }
  if (text.length === 0 || rest.length > 0 || !Number.isSafeInteger(total) || total < min || total > max) {
    throw new InvalidOptionError(
      `${field}: expected a duration from ${formatDuration(min)} to ${formatDuration(max)} such as 30s, 15m, 1h or 1h30m, got "${value}"`,
    )
  }
  return total
}

/** Milliseconds as `parseDuration` reads them back: the largest units that add up exactly. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let rest = ms
  let out = ''
  for (const [unit, size] of Object.entries(DURATION_UNITS).reverse()) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`
      rest %= size
    }
  }
  return out
}

/**
 * The mesh's default mesh name, written out here: importing @tlsmesh/mesh for it would load libp2p
 * (a second) before `--help` or `--version` could answer. A test checks the two agree.
 */
export const DEFAULT_MESH_NAME = 'default'

/** Each setting's default as the config file spells it; a setting absent here has its `unset` text. */
export const DEFAULT_VALUES: Partial<Record<FieldName, string | string[] | boolean>> = {
  insecureDev: false,
  listen: [DEFAULT_LISTEN],
  seeds: [],
  realms: [DEFAULT_REALM],
  meshName: DEFAULT_MESH_NAME,
  mdns: false,
  transportThread: false,
  admin: DEFAULT_ADMIN,
  replicaMaxBytes: formatSize(DEFAULT_REPLICA_MAX_BYTES),
  replicaMaxEntries: String(DEFAULT_REPLICA_MAX_ENTRIES),
  ticketKeys: [],
  ticketKeyRotation: formatDuration(DEFAULT_TICKET_KEY_ROTATION_MS),
  ticketKeyLifetime: formatDuration(DEFAULT_TICKET_KEY_LIFETIME_MS),
  ticketKeysFormat: DEFAULT_TICKET_KEYS_FORMAT,
  logLevel: DEFAULT_LOG_LEVEL,
  logFormat: DEFAULT_LOG_FORMAT,
}

/** `--help` lines end here: a terminal's default width. */
export const HELP_WIDTH = 80

/** Words of `text` in lines of at most `width` columns, each after `indent` (the first after `first`). */
export function wrapText(text: string, width: number, indent: string, first = indent): string[] {
  const lines: string[] = []
  let line = first
  let empty = true
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = indent
      empty = true
    }
    line += empty ? word : ` ${word}`
    empty = false
  }
  lines.push(line)
  return lines
}

function usage(): string {
  const paragraph = (text: string): string => wrapText(text, HELP_WIDTH, '').join('\n')
  const option = (flag: string, help: string): string[] => {
    // A flag too long for the column gets its help on the lines below, like argparse.
    const column = 26
    const head = `  ${flag}`
    if (head.length + 2 > column) return [head, ...wrapText(help, HELP_WIDTH, ' '.repeat(column))]
    return wrapText(help, HELP_WIDTH, ' '.repeat(column), head.padEnd(column))
  }
  const describeDefault = (name: FieldName): string => {
    const value = DEFAULT_VALUES[name]
    if (value === undefined) {
      const unset = CONFIG_FIELDS[name].unset ?? 'none'
      return unset.startsWith('required') ? unset : `default: ${unset}`
    }
    if (Array.isArray(value)) return `default: ${value.length === 0 ? 'none' : value.join(', ')}`
    return `default: ${value}`
  }
  const options = FIELD_NAMES.flatMap((name) => {
    const field = CONFIG_FIELDS[name]
    const flag = `--${field.flag}${field.arg !== undefined ? ` ${field.arg}` : ''}`
    return option(flag, `${field.help} (${describeDefault(name)})`)
  })
  const flagWidth = Math.max(...FIELD_NAMES.map((n) => CONFIG_FIELDS[n].flag.length)) + 4
  const envWidth = Math.max(...FIELD_NAMES.map((n) => CONFIG_FIELDS[n].env.length)) + 2
  const sources = FIELD_NAMES.map((name) => {
    const field = CONFIG_FIELDS[name]
    return `  ${`--${field.flag}`.padEnd(flagWidth)}${field.env.padEnd(envWidth)}${field.key}`
  })
  return `Usage: tlsmeshd [--config FILE] [options]
       tlsmeshd --check-config [--config FILE] [options]

${paragraph('Runs a tlsmesh node: joins the mesh and replicates TLS sessions of the given realms, and with --ticket-keys, generates, shares and rotates their TLS session ticket keys.')}

Options:
${options.join('\n')}
${[
  ...option(
    '--config FILE',
    `YAML config file (or ${CONFIG_FILE_ENV}); flags win over the environment, which wins over the file`,
  ),
  ...option(
    '--check-config',
    'check the configuration: read it, open every file it names, bind nothing; print "configuration OK" (exit 0) or the error (exit 2)',
  ),
  ...option('--print-config', 'print the resulting config (YAML, with where each value came from) and exit'),
  ...option('--version', 'print the version and exit'),
  ...option('-h, --help', 'show this help'),
].join('\n')}

${paragraph('Sizes: bytes, or with kB, MB, GB (powers of 1000) or K, KiB, M, MiB, G, GiB (powers of 1024). Durations: a number with a unit, ms, s, m, h or d, alone or combined (1h30m).')}

${paragraph('Every option can come from a flag, an environment variable or a config file key (lists: repeat the flag, comma-separate the variable, a YAML sequence in the file):')}
  ${'flag'.padEnd(flagWidth)}${'environment'.padEnd(envWidth)}config file key
${sources.join('\n')}

${paragraph('SIGHUP re-reads the config file and the flags and applies the log level and new seeds; other changes need a restart and are logged as such. SIGTERM or SIGINT stops the node; a second one exits at once.')}

${paragraph('Exit codes: 0 ok, 1 failed, 2 a setting refused (one line on stderr naming it).')}
`
}

export const USAGE = usage()

const MAX_SOCKET_PATH_BYTES = 107

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1|\[::1\])$/

export function parseHostPort(field: string, value: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new InvalidOptionError(`${field}: expected HOST:PORT, got "${value}"`)
  }
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1')
  if (!LOOPBACK.test(host) && host !== '::1') {
    throw new InvalidOptionError(
      `${field}: must be a loopback address (127.0.0.0/8, ::1 or localhost), got "${host}"`,
    )
  }
  return { host, port }
}

/** `HOST:PORT` as it was given, with brackets around an IPv6 host. */
export function formatHostPort(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

function checkMultiaddrs(field: string, values: string[], needPeerId: boolean): string[] {
  for (const value of values) {
    let ma: ReturnType<typeof multiaddr>
    try {
      ma = multiaddr(value)
    } catch {
      throw new InvalidOptionError(`${field}: "${value}" is not a multiaddr (e.g. /ip4/10.0.0.5/tcp/7645)`)
    }
    if (needPeerId && !ma.toString().includes('/p2p/')) {
      throw new InvalidOptionError(
        `${field}: "${value}" needs the peer id: .../p2p/<peer id> (see "tlsmesh status")`,
      )
    }
  }
  return values
}

/** HOST:PORT, /dns4/NAME/tcp/PORT, /ip4/ADDR/tcp/PORT, or any multiaddr with /p2p/<peer id>. */
function checkSeeds(field: string, values: string[]): string[] {
  for (const value of values) {
    try {
      parseSeed(value)
    } catch (err) {
      throw new InvalidOptionError(`${field}: ${(err as Error).message}`)
    }
  }
  return values
}

/**
 * A key file setting holds a path. Someone may paste the key itself into an environment variable:
 * refuse it without echoing it, so that it reaches neither the terminal nor the journal.
 */
function checkKeyPath(field: string, value: string): string {
  if (value.length === 0) throw new InvalidOptionError(`${field}: expected a file path, got an empty value`)
  if (/[\r\n]/.test(value) || value.startsWith('/key/swarm/psk') || /^[0-9a-fA-F]{64}$/.test(value)) {
    throw new InvalidOptionError(
      `${field}: expected the path of a key file, got what looks like a key itself (not shown); write the key to a file (mode 0600) and name that file`,
    )
  }
  return value
}

/**
 * kB, MB, GB are powers of 1000 (SI, as disks and `ls --si` count); K, M, G and KiB, MiB, GiB powers
 * of 1024, so that `64M` keeps meaning 64 MiB. Case is not significant: nobody sizes a replica in
 * millibytes.
 */
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  K: 1024,
  KIB: 1024,
  M: 1024 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GIB: 1024 ** 3,
}

/** Bytes as `parseSize` reads them back: the largest power-of-1024 unit that divides them exactly. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

export function parseSize(field: string, value: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(value.trim())
  const unit = SIZE_UNITS[(match?.[2] ?? '').toUpperCase()]
  const bytes = match !== null && unit !== undefined ? Number(match[1]) * unit : Number.NaN
  if (!Number.isSafeInteger(bytes) || bytes < MIN_REPLICA_MAX_BYTES || bytes > MAX_REPLICA_MAX_BYTES) {
    throw new InvalidOptionError(
      `${field}: expected a size from 1MiB to 16GiB (bytes, or with kB, MB, GB: powers of 1000, or K, KiB, M, MiB, G, GiB: powers of 1024), got "${value}"`,
    )
  }
  return bytes
}

function parseCount(field: string, value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_REPLICA_MAX_ENTRIES) {
    throw new InvalidOptionError(
      `${field}: expected a whole number from 1 to ${MAX_REPLICA_MAX_ENTRIES}, got "${value}"`,
    )
  }
  return n
}

function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError(`${field}: "${value}" is not one of ${allowed.join(', ')}`)
  }
  return value as T
}

function checkPeerIds(field: string, values: string[]): string[] {
  if (values.length === 0) {
    throw new InvalidOptionError(
      `${field}: an empty allowlist would refuse every peer; list peer ids, or leave it out to allow any holder of the mesh key`,
    )
  }
  for (const value of values) {
    try {
      peerIdFromString(value)
    } catch {
      throw new InvalidOptionError(
        `${field}: "${value}" is not a peer id (e.g. 12D3KooW..., see "tlsmesh status")`,
      )
    }
  }
  return [...new Set(values)]
}

function realmName(field: string, value: string): string {
  if (!isValidRealm(value)) {
    throw new InvalidOptionError(`${field}: "${value}" must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  return value
}

/**
 * Merges the sources (flags > environment > file > defaults, a list replacing, not extending, a
 * lower source's) and checks every value. Throws InvalidOptionError naming the setting as the
 * operator wrote it: `--realm`, `TLSMESH_REALMS` or `realms in /etc/tlsmesh/tlsmeshd.yaml`.
 */
export function resolveOptions(sources: ConfigSources): ResolvedConfig {
  const origins = {} as Record<FieldName, Origin>
  const merged: RawConfig = {}
  for (const name of FIELD_NAMES) {
    const layers: Array<[Origin, RawValue | undefined]> = [
      ['flag', sources.flags[name]],
      ['env', sources.env?.[name]],
      ['file', sources.file?.values[name]],
    ]
    const found = layers.find(([, value]) => value !== undefined)
    origins[name] = found?.[0] ?? 'default'
    if (found?.[1] !== undefined) merged[name] = found[1]
  }
  const label = (name: FieldName): string => {
    const field = CONFIG_FIELDS[name]
    switch (origins[name]) {
      case 'env':
        return field.env
      case 'file':
        return `${field.key} in ${sources.file?.path}`
      default:
        return `--${field.flag}`
    }
  }
  const str = (name: FieldName): string | undefined => merged[name] as string | undefined
  const list = (name: FieldName): string[] | undefined => merged[name] as string[] | undefined
  const bool = (name: FieldName): boolean => merged[name] === true

  const realms = list('realms') ?? [DEFAULT_REALM]
  if (realms.length === 0) {
    throw new InvalidOptionError(`${label('realms')}: at least one realm is required`)
  }
  for (const realm of realms) realmName(label('realms'), realm)
  const meshName = str('meshName')
  if (meshName !== undefined) realmName(label('meshName'), meshName)
  const logLevel = oneOf(label('logLevel'), str('logLevel') ?? DEFAULT_LOG_LEVEL, LOG_LEVELS)
  const logFormat = oneOf(label('logFormat'), str('logFormat') ?? DEFAULT_LOG_FORMAT, LOG_FORMATS)
  const insecureDev = bool('insecureDev')
  const meshKeyFile = str('meshKeyFile')
  if (meshKeyFile === undefined && !insecureDev) {
    const f = CONFIG_FIELDS.meshKeyFile
    throw new InvalidOptionError(
      `--${f.flag} (or ${f.env}, or ${f.key} in the config file): required (make one with "tlsmesh keygen --out FILE"; --insecure-dev runs without, for development only)`,
    )
  }
  if (meshKeyFile !== undefined) checkKeyPath(label('meshKeyFile'), meshKeyFile)
  const identityFile = str('identityFile')
  if (identityFile !== undefined) checkKeyPath(label('identityFile'), identityFile)
  const listen = list('listen') ?? [DEFAULT_LISTEN]
  if (listen.length === 0)
    throw new InvalidOptionError(`${label('listen')}: at least one address is required`)
  const allowPeers = list('allowPeers')
  const replicaMaxBytes = str('replicaMaxBytes')
  const replicaMaxEntries = str('replicaMaxEntries')

  const options: DaemonOptions = {
    ...(meshKeyFile !== undefined ? { meshKeyFile } : {}),
    insecureDev,
    ...(identityFile !== undefined ? { identityFile } : {}),
    listen: checkMultiaddrs(label('listen'), listen, false),
    ...(list('announce') !== undefined
      ? { announce: checkMultiaddrs(label('announce'), list('announce') ?? [], false) }
      : {}),
    seeds: checkSeeds(label('seeds'), list('seeds') ?? []),
    ...(allowPeers !== undefined ? { allowPeers: checkPeerIds(label('allowPeers'), allowPeers) } : {}),
    realms: [...new Set(realms)],
    ...(meshName !== undefined ? { meshName } : {}),
    mdns: bool('mdns'),
    transportThread: bool('transportThread'),
    admin: parseHostPort(label('admin'), str('admin') ?? DEFAULT_ADMIN),
    ...memcacheOptions(str, list, label, realms),
    ...ticketKeysOptions(str, list, label, realms),
    replica: {
      maxBytesPerRealm:
        replicaMaxBytes !== undefined
          ? parseSize(label('replicaMaxBytes'), replicaMaxBytes)
          : DEFAULT_REPLICA_MAX_BYTES,
      maxEntriesPerRealm:
        replicaMaxEntries !== undefined
          ? parseCount(label('replicaMaxEntries'), replicaMaxEntries)
          : DEFAULT_REPLICA_MAX_ENTRIES,
    },
    logLevel,
    logFormat,
  }
  return { options, origins, configFile: sources.file?.path }
}

function memcacheOptions(
  str: (name: FieldName) => string | undefined,
  list: (name: FieldName) => string[] | undefined,
  label: (name: FieldName) => string,
  realms: string[],
): Pick<DaemonOptions, 'memcache'> {
  const tcp = str('memcache')
  const socketPath = str('memcacheSocket')
  const realm = str('memcacheRealm') ?? realms[0] ?? DEFAULT_REALM
  const allowUsers = list('memcacheAllowUsers')
  if (allowUsers !== undefined) checkUserNames(label('memcacheAllowUsers'), allowUsers, tcp !== undefined)
  if (tcp === undefined && socketPath === undefined) {
    if (str('memcacheRealm') !== undefined) {
      throw new InvalidOptionError(
        `${label('memcacheRealm')}: needs --memcache HOST:PORT or --memcache-socket PATH`,
      )
    }
    return {}
  }
  // sun_path holds 108 bytes with its terminating NUL: a longer path cannot be bound at all.
  if (
    socketPath !== undefined &&
    (socketPath.length === 0 || Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES)
  ) {
    throw new InvalidOptionError(
      `${label('memcacheSocket')}: expected a socket path of 1 to ${MAX_SOCKET_PATH_BYTES} bytes, got ${Buffer.byteLength(socketPath)}`,
    )
  }
  if (!realms.includes(realm)) {
    throw new InvalidOptionError(
      `${label('memcacheRealm')}: "${realm}" is not one of the realms served (${realms.join(', ')})`,
    )
  }
  return {
    memcache: {
      ...(tcp !== undefined ? { tcp: parseHostPort(label('memcache'), tcp) } : {}),
      ...(socketPath !== undefined ? { socketPath } : {}),
      realm,
      ...(allowUsers !== undefined ? { allowUsers: [...new Set(allowUsers)] } : {}),
    },
  }
}

/** Names only: whether each is a user of this host is asked at start-up (startDaemon), not on every read. */
function checkUserNames(field: string, users: string[], hasTcp: boolean): void {
  if (!hasTcp) {
    throw new InvalidOptionError(
      `${field}: needs --memcache HOST:PORT (it limits the loopback port; the unix socket is limited by its file mode)`,
    )
  }
  if (users.length === 0) {
    throw new InvalidOptionError(
      `${field}: an empty list would refuse every client; list user names, or leave it out to allow any local user`,
    )
  }
  for (const user of users) {
    if (!isValidUserName(user)) {
      throw new InvalidOptionError(`${field}: "${user}" is not a user name (e.g. www-data)`)
    }
  }
}

function ticketKeysOptions(
  str: (name: FieldName) => string | undefined,
  list: (name: FieldName) => string[] | undefined,
  label: (name: FieldName) => string,
  realms: string[],
): Pick<DaemonOptions, 'ticketKeys'> {
  const ticketRealms = list('ticketKeys') ?? []
  const dependents = [
    'ticketKeyRotation',
    'ticketKeyLifetime',
    'ticketKeysDir',
    'ticketKeysFormat',
    'onTicketKeys',
  ] as const
  const proposers = list('ticketKeyProposers')
  if (ticketRealms.length === 0) {
    if (proposers !== undefined) {
      throw new InvalidOptionError(`${label('ticketKeyProposers')}: needs --ticket-keys REALM`)
    }
    const given = dependents.find((name) => str(name) !== undefined)
    if (given !== undefined) {
      throw new InvalidOptionError(
        `${label(given)}: needs --ticket-keys REALM (the realm whose keys to keep)`,
      )
    }
    return {}
  }
  for (const realm of ticketRealms) {
    if (!realms.includes(realm)) {
      throw new InvalidOptionError(
        `${label('ticketKeys')}: "${realm}" is not one of the realms served (${realms.join(', ')}); add --realm ${realm}`,
      )
    }
    if (!isValidRealm(ticketKeyRealm(realm))) {
      throw new InvalidOptionError(
        `${label('ticketKeys')}: "${realm}" is too long: its keys travel in the realm "${ticketKeyRealm(realm)}", at most 64 characters`,
      )
    }
    // The key realm is a replica realm like any other: a session realm of the same name would mix
    // sessions and keys, and hand the keys to whatever reads that realm (the memcached endpoint).
    if (realms.includes(ticketKeyRealm(realm))) {
      throw new InvalidOptionError(
        `${label('realms')}: "${ticketKeyRealm(realm)}" is where the ticket keys of --ticket-keys ${realm} travel; serve sessions under another name`,
      )
    }
  }
  const rotation = str('ticketKeyRotation')
  const lifetime = str('ticketKeyLifetime')
  const rotationMs =
    rotation !== undefined
      ? parseDuration(
          label('ticketKeyRotation'),
          rotation,
          MIN_TICKET_KEY_ROTATION_MS,
          MAX_TICKET_KEY_DURATION_MS,
        )
      : DEFAULT_TICKET_KEY_ROTATION_MS
  const decryptLifetimeMs =
    lifetime !== undefined
      ? parseDuration(label('ticketKeyLifetime'), lifetime, 0, MAX_TICKET_KEY_DURATION_MS)
      : DEFAULT_TICKET_KEY_LIFETIME_MS
  try {
    ticketKeyRecordTtlMs({ realm: ticketRealms[0]!, rotationMs, decryptLifetimeMs })
  } catch (err) {
    if (!(err instanceof InvalidTicketKeyOptionError)) throw err
    throw new InvalidOptionError(`${label('ticketKeyRotation')}: ${err.message}`)
  }

  const dir = str('ticketKeysDir')
  const format = str('ticketKeysFormat')
  const hook = str('onTicketKeys')
  if (dir === undefined) {
    const given = (['ticketKeysFormat', 'onTicketKeys'] as const).find((name) => str(name) !== undefined)
    if (given !== undefined) {
      throw new InvalidOptionError(
        `${label(given)}: needs --ticket-keys-dir DIR (the directory the key files are written to)`,
      )
    }
  } else if (!dir.startsWith('/')) {
    // nginx and HAProxy name the files by absolute path, and a unit's working directory is `/`.
    throw new InvalidOptionError(`${label('ticketKeysDir')}: expected an absolute path, got "${dir}"`)
  }
  if (hook !== undefined && hook.trim().length === 0) {
    throw new InvalidOptionError(`${label('onTicketKeys')}: expected a command, got an empty value`)
  }
  return {
    ticketKeys: {
      realms: [...new Set(ticketRealms)],
      rotationMs,
      decryptLifetimeMs,
      ...(proposers !== undefined ? { proposers: checkPeerIds(label('ticketKeyProposers'), proposers) } : {}),
      ...(dir !== undefined
        ? {
            files: {
              dir,
              format: oneOf(
                label('ticketKeysFormat'),
                format ?? DEFAULT_TICKET_KEYS_FORMAT,
                TICKET_KEY_FILE_FORMATS,
              ),
              ...(hook !== undefined ? { hook } : {}),
            },
          }
        : {}),
    },
  }
}

/** What the command line says: settings, and the options that are not settings. */
export interface ParsedFlags {
  values: RawConfig
  configFile?: string
  printConfig: boolean
  /** `--check-config`: check everything, open every file named, bind nothing, and exit. */
  checkConfig: boolean
  help: boolean
  version: boolean
}

/** Parses the command line alone (no checks of the values yet). */
export function parseFlags(argv: string[]): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    'print-config': { type: 'boolean' },
    'check-config': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  }
  for (const name of FIELD_NAMES) {
    const field = CONFIG_FIELDS[name]
    options[field.flag] =
      field.kind === 'list'
        ? { type: 'string', multiple: true }
        : { type: field.kind === 'boolean' ? 'boolean' : 'string' }
  }
  let parsed: Record<string, string | boolean | (string | boolean)[] | undefined>
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options,
    }).values
  } catch (err) {
    throw new InvalidOptionError(flagError(err as NodeJS.ErrnoException))
  }
  const values: RawConfig = {}
  for (const name of FIELD_NAMES) {
    const field = CONFIG_FIELDS[name]
    const value = parsed[field.flag]
    if (value !== undefined) values[name] = value as RawValue
  }
  // parseArgs refuses `--no-X` for an option that takes a value: only switches can be negated.
  const config = parsed.config as string | undefined
  return {
    values,
    ...(config !== undefined ? { configFile: config } : {}),
    printConfig: parsed['print-config'] === true,
    checkConfig: parsed['check-config'] === true,
    help: parsed.help === true,
    version: parsed.version === true,
  }
}

/** parseArgs's refusals as one line naming the flag first, like every other refusal. */
function flagError(err: NodeJS.ErrnoException): string {
  const flag = /'(-[^'\s]*)/.exec(err.message)?.[1]
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `${flag ?? err.message}: unknown option (see "tlsmeshd --help")`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `${/'([^']*)'/.exec(err.message)?.[1] ?? err.message}: unexpected argument (options start with --)`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return flag !== undefined && /argument missing/.test(err.message)
        ? `${flag.split(' ')[0]}: needs a value`
        : err.message
    default:
      return err.message
  }
}

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

/** Reads the `TLSMESH_*` variables; unknown ones are reported, not fatal (other tools share the prefix). */
export function readEnv(env: Record<string, string | undefined>): {
  values: RawConfig
  configFile?: string
  unknown: string[]
} {
  const values: RawConfig = {}
  const known = new Set<string>([CONFIG_FILE_ENV])
  for (const name of FIELD_NAMES) {
    const field = CONFIG_FIELDS[name]
    known.add(field.env)
    const raw = env[field.env]
    if (raw === undefined) continue
    const value = raw.trim()
    if (field.kind === 'list') {
      // Commas or whitespace: neither appears in a multiaddr or a realm name.
      values[name] = value.split(/[\s,]+/).filter((item) => item.length > 0)
    } else if (field.kind === 'boolean') {
      const lower = value.toLowerCase()
      if (TRUE.has(lower)) values[name] = true
      else if (FALSE.has(lower)) values[name] = false
      else {
        throw new InvalidOptionError(
          `${field.env}: expected one of ${[...TRUE, ...FALSE].join(', ')}, got "${raw}"`,
        )
      }
    } else if (value.length > 0) {
      // An empty variable (`TLSMESH_MEMCACHE=` in a unit file) means unset, not an empty value.
      values[name] = value
    }
  }
  const unknown = Object.keys(env)
    .filter((key) => key.startsWith(ENV_PREFIX) && !known.has(key))
    .sort()
  const configFile = env[CONFIG_FILE_ENV]?.trim()
  return { values, ...(configFile ? { configFile } : {}), unknown }
}

/** Parses and checks the command line alone (no environment, no file). Kept for tests and embedding. */
export function parseDaemonArgs(argv: string[]): DaemonOptions | 'help' {
  const flags = parseFlags(argv)
  if (flags.help) return 'help'
  return resolveOptions({ flags: flags.values }).options
}
