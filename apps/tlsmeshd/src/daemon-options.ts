import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { isValidRealm } from '@tlsmesh/store'
import { DEFAULT_ADMIN, DEFAULT_LISTEN, DEFAULT_REALM, LOG_LEVELS, type LogLevel } from './constants.ts'

/** Plain data: what the daemon runs with, after flags are parsed and checked. */
export interface DaemonOptions {
  meshKeyFile?: string
  insecureDev: boolean
  identityFile?: string
  listen: string[]
  seeds: string[]
  realms: string[]
  meshName?: string
  mdns: boolean
  admin: { host: string; port: number }
  /** The memcached endpoint: TCP on loopback and/or a unix socket; absent when neither is given. */
  memcache?: { tcp?: { host: string; port: number }; socketPath?: string; realm: string }
  logLevel: LogLevel
}

/** A command-line or config value that is not allowed; the message names the field. */
export class InvalidOptionError extends Error {
  static override name = 'InvalidOptionError'
  override name = 'InvalidOptionError'
  readonly code = 'invalid-option'
}

export const USAGE = `Usage: tlsmeshd [options]

Runs a tlsmesh node: joins the mesh and replicates TLS sessions of the given realms.

  --mesh-key FILE        mesh (private network) key, from "tlsmesh keygen --out FILE" (required)
  --insecure-dev         run without a mesh key: anyone who reaches the port joins (development only)
  --identity FILE        persistent peer identity; created (mode 0600) if missing
  --listen MULTIADDR     address to listen on, repeatable (default ${DEFAULT_LISTEN})
  --seed MULTIADDR       peer to join through, with /p2p/<peer id>, repeatable
  --realm NAME           realm to serve, repeatable (default "${DEFAULT_REALM}")
  --mesh-name NAME       separates fleets sharing a key and a LAN (default "default")
  --mdns                 find peers on the LAN by multicast DNS
  --admin HOST:PORT      admin HTTP on loopback: /healthz, /status, /metrics (default ${DEFAULT_ADMIN})
  --memcache HOST:PORT   serve the memcached protocol (text and binary) on loopback, for H2O, Apache...
  --memcache-socket PATH serve it on a unix socket (mode 0660): recommended, a loopback port is open
                         to every local process
  --memcache-realm NAME  realm the memcached endpoint serves (default: the first --realm)
  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default info)
  -h, --help             show this help
`

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

/** Parses and checks the command line. Throws InvalidOptionError naming the flag at fault. */
export function parseDaemonArgs(argv: string[]): DaemonOptions | 'help' {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (err) {
    throw new InvalidOptionError((err as Error).message)
  }
  if (values.help === true) return 'help'
  const realms = values.realm ?? [DEFAULT_REALM]
  for (const realm of realms) {
    if (!isValidRealm(realm)) {
      throw new InvalidOptionError(`--realm: "${realm}" must be 1-64 characters of A-Z a-z 0-9 . _ -`)
    }
  }
  const meshName = values['mesh-name']
  if (meshName !== undefined && !isValidRealm(meshName)) {
    throw new InvalidOptionError(`--mesh-name: "${meshName}" must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  const logLevel = (values['log-level'] ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new InvalidOptionError(`--log-level: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`)
  }
  const insecureDev = values['insecure-dev'] === true
  if (values['mesh-key'] === undefined && !insecureDev) {
    throw new InvalidOptionError(
      '--mesh-key: required (make one with "tlsmesh keygen --out FILE"; --insecure-dev runs without, for development only)',
    )
  }
  return {
    ...(values['mesh-key'] !== undefined ? { meshKeyFile: values['mesh-key'] } : {}),
    insecureDev,
    ...(values.identity !== undefined ? { identityFile: values.identity } : {}),
    listen: checkMultiaddrs('--listen', values.listen ?? [DEFAULT_LISTEN], false),
    seeds: checkMultiaddrs('--seed', values.seed ?? [], true),
    realms: [...new Set(realms)],
    ...(meshName !== undefined ? { meshName } : {}),
    mdns: values.mdns === true,
    admin: parseHostPort('--admin', values.admin ?? DEFAULT_ADMIN),
    ...memcacheOptions(values, realms),
    logLevel,
  }
}

function memcacheOptions(
  values: { memcache?: string; 'memcache-socket'?: string; 'memcache-realm'?: string },
  realms: string[],
): Pick<DaemonOptions, 'memcache'> {
  const realm = values['memcache-realm'] ?? realms[0] ?? DEFAULT_REALM
  if (values.memcache === undefined && values['memcache-socket'] === undefined) {
    if (values['memcache-realm'] !== undefined) {
      throw new InvalidOptionError('--memcache-realm: needs --memcache HOST:PORT or --memcache-socket PATH')
    }
    return {}
  }
  if (!realms.includes(realm)) {
    throw new InvalidOptionError(
      `--memcache-realm: "${realm}" is not one of the --realm values (${realms.join(', ')})`,
    )
  }
  return {
    memcache: {
      ...(values.memcache !== undefined ? { tcp: parseHostPort('--memcache', values.memcache) } : {}),
      ...(values['memcache-socket'] !== undefined ? { socketPath: values['memcache-socket'] } : {}),
      realm,
    },
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'mesh-key': { type: 'string' },
      'insecure-dev': { type: 'boolean' },
      identity: { type: 'string' },
      listen: { type: 'string', multiple: true },
      seed: { type: 'string', multiple: true },
      realm: { type: 'string', multiple: true },
      'mesh-name': { type: 'string' },
      mdns: { type: 'boolean' },
      admin: { type: 'string' },
      memcache: { type: 'string' },
      'memcache-socket': { type: 'string' },
      'memcache-realm': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
