import { stringify } from 'yaml'
import { CONFIG_FIELDS, FIELD_NAMES, type FieldName, type Origin } from './config-fields.ts'
import { type DaemonOptions, formatDuration, formatHostPort, type ResolvedConfig } from './daemon-options.ts'

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
    admin: formatHostPort(options.admin),
    memcache: options.memcache?.tcp !== undefined ? formatHostPort(options.memcache.tcp) : undefined,
    memcacheSocket: options.memcache?.socketPath,
    memcacheRealm: options.memcache?.realm,
    memcacheAllowUsers: options.memcache?.allowUsers,
    replicaMaxBytes: options.replica.maxBytesPerRealm,
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
  for (const name of FIELD_NAMES) {
    const { key } = CONFIG_FIELDS[name]
    const value = values[name]
    const note = originNote(name, resolved.origins[name], resolved.configFile)
    if (value === undefined) {
      lines.push(`# ${key}: (not set)`)
    } else if (Array.isArray(value)) {
      lines.push(value.length === 0 ? `${key}: []  # ${note}` : `${key}:  # ${note}`)
      for (const item of value) lines.push(`  - ${stringify(item).trimEnd()}`)
    } else {
      lines.push(`${key}: ${stringify(value).trimEnd()}  # ${note}`)
    }
  }
  return `${lines.join('\n')}\n`
}
