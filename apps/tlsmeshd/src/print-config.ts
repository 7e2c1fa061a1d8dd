import { stringify } from 'yaml'
import { CONFIG_FIELDS, FIELD_NAMES, type FieldName, type Origin } from './config-fields.ts'
import {
  type DaemonOptions,
  DEFAULT_VALUES,
  formatDuration,
  formatHostPort,
  formatSize,
  type ResolvedConfig,
} from './daemon-options.ts'

/** Each setting as the config file would spell it; undefined when not set. */
function fileValues(
  options: DaemonOptions,
): Record<FieldName, string | number | string[] | boolean | undefined> {
  return {
    meshKeyFile: options.meshKeyFile,
    insecureDev: options.insecureDev,
    identityFile: options.identityFile,
    listen: options.listen,
    announce: options.announce,
    seeds: options.seeds,
    allowPeers: options.allowPeers,
    realms: options.realms,
    meshName: options.meshName,
    mdns: options.mdns,
    transportThread: options.transportThread,
    admin: formatHostPort(options.admin),
    memcache: options.memcache?.tcp !== undefined ? formatHostPort(options.memcache.tcp) : undefined,
    memcacheSocket: options.memcache?.socketPath,
    memcacheRealm: options.memcache?.realm,
    memcacheAllowUsers: options.memcache?.allowUsers,
    replicaMaxBytes: formatSize(options.replica.maxBytesPerRealm),
    replicaMaxEntries: options.replica.maxEntriesPerRealm,
    ticketKeys: options.ticketKeys?.realms,
    ticketKeyProposers: options.ticketKeys?.proposers,
    ticketKeyRotation:
      options.ticketKeys !== undefined ? formatDuration(options.ticketKeys.rotationMs) : undefined,
    ticketKeyLifetime:
      options.ticketKeys !== undefined ? formatDuration(options.ticketKeys.decryptLifetimeMs) : undefined,
    ticketKeysDir: options.ticketKeys?.files?.dir,
    ticketKeysFormat: options.ticketKeys?.files?.format,
    onTicketKeys: options.ticketKeys?.files?.hook,
    logLevel: options.logLevel,
    logFormat: options.logFormat,
  }
}

function originNote(name: FieldName, origin: Origin, configFile: string | undefined): string {
  const field = CONFIG_FIELDS[name]
  switch (origin) {
    case 'flag':
      return `from --${field.flag}`
    case 'env':
      return `from ${field.env}`
    case 'file':
      return `from ${configFile}`
    case 'default':
      return 'default'
  }
}

/**
 * The resolved config as a YAML file the daemon reads back unchanged, each setting annotated with
 * where its value came from. Holds paths to the key files, never their contents: the options hold
 * no secret, and key-like values are refused before they get here.
 */
export function formatConfig(resolved: ResolvedConfig): string {
  const values = fileValues(resolved.options)
  const lines = [
    '# tlsmeshd: resulting configuration (flags > environment > config file > defaults)',
    ...(resolved.configFile !== undefined ? [`# config file: ${resolved.configFile}`] : []),
  ]
  const entry = (prefix: string, key: string, value: unknown, note: string): void => {
    if (Array.isArray(value)) {
      lines.push(value.length === 0 ? `${prefix}${key}: []  # ${note}` : `${prefix}${key}:  # ${note}`)
      for (const item of value) lines.push(`${prefix}  - ${stringify(item).trimEnd()}`)
    } else {
      lines.push(`${prefix}${key}: ${stringify(value).trimEnd()}  # ${note}`)
    }
  }
  for (const name of FIELD_NAMES) {
    const field = CONFIG_FIELDS[name]
    const value = values[name]
    if (value !== undefined) {
      entry('', field.key, value, originNote(name, resolved.origins[name], resolved.configFile))
      continue
    }
    // Not in force: the default it would take, commented out so that the file reads back the same
    // (a ticket key setting without ticket-keys is refused), or what holds without it.
    const fallback = DEFAULT_VALUES[name]
    const applies = field.needs !== undefined ? `, with --${field.needs}` : ''
    if (fallback !== undefined) entry('# ', field.key, fallback, `default${applies}`)
    else lines.push(`# ${field.key}:  # default: ${field.unset ?? 'none'}${applies}`)
  }
  return `${lines.join('\n')}\n`
}
