import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { CONFIG_FIELDS, FIELD_NAMES, type FieldName, type RawConfig, type RawValue } from './config-fields.ts'
import { MAX_CONFIG_FILE_BYTES } from './constants.ts'
import {
  formatDuration,
  InvalidOptionError,
  parseFlags,
  type ResolvedConfig,
  readEnv,
  resolveOptions,
} from './daemon-options.ts'

const BY_KEY = new Map<string, FieldName>(FIELD_NAMES.map((name) => [CONFIG_FIELDS[name].key, name]))

/** Keys people write by habit (the flag's name, the option's name): pointed to the right key. */
const NEAR_MISSES = new Map<string, FieldName>(
  FIELD_NAMES.flatMap((name) => [
    [CONFIG_FIELDS[name].flag, name],
    [name, name],
    [name.toLowerCase(), name],
  ]),
)

function describe(value: unknown): string {
  if (value === null) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`
}

/**
 * Reads a YAML config file's text into raw settings. Keys are the `key` column of CONFIG_FIELDS;
 * an unknown key is an error (a typo must not silently fall back to a default).
 */
export function parseConfigFile(path: string, text: string): RawConfig {
  // Aliases are capped by the yaml package (maxAliasCount), so a hostile file cannot expand without bound.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true })
  const problem = doc.errors[0]
  if (problem !== undefined) {
    throw new InvalidOptionError(
      `${path}: not valid YAML: ${problem.message.split('\n')[0]?.replace(/:$/, '')}`,
    )
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 })
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidOptionError(
      `${path}: expected a mapping of settings (key: value), got ${describe(data)}`,
    )
  }
  const values: RawConfig = {}
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const name = BY_KEY.get(key)
    if (name === undefined) {
      const near = NEAR_MISSES.get(key)
      const hint = near !== undefined ? `did you mean "${CONFIG_FIELDS[near].key}"? ` : ''
      throw new InvalidOptionError(
        `${path}: unknown setting "${key}" (${hint}known: ${FIELD_NAMES.map((n) => CONFIG_FIELDS[n].key).join(', ')})`,
      )
    }
    // `seeds:` with nothing after it: as if the key were absent.
    if (value === null) continue
    values[name] = fileValue(path, name, value)
  }
  return values
}

function fileValue(path: string, name: FieldName, value: unknown): RawValue {
  const field = CONFIG_FIELDS[name]
  const where = `${field.key} in ${path}`
  switch (field.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') {
        throw new InvalidOptionError(`${where}: expected true or false, got ${describe(value)}`)
      }
      return value
    case 'list': {
      const items = Array.isArray(value) ? value : [value]
      for (const item of items) {
        if (typeof item !== 'string') {
          throw new InvalidOptionError(`${where}: expected a list of strings, got ${describe(item)} in it`)
        }
      }
      return items as string[]
    }
    case 'string':
      // `replica-max-entries: 50000` and `admin: ...` alike: numbers are taken as written.
      if (typeof value === 'number' && Number.isFinite(value)) return String(value)
      if (typeof value !== 'string') {
        throw new InvalidOptionError(`${where}: expected a string, got ${describe(value)}`)
      }
      return value
  }
}

export type LoadedConfig =
  | { kind: 'help' }
  | { kind: 'version' }
  | ({ kind: 'run' | 'print' | 'check'; warnings: string[] } & ResolvedConfig)

/**
 * Everything the daemon is told at start-up (and again on SIGHUP): the command line, the
 * `TLSMESH_*` environment and the config file they name, merged and checked.
 */
export async function loadDaemonConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  read: (path: string) => Promise<Uint8Array> = readFile,
): Promise<LoadedConfig> {
  const flags = parseFlags(argv)
  if (flags.help) return { kind: 'help' }
  if (flags.version) return { kind: 'version' }
  const fromEnv = readEnv(env)
  const path = flags.configFile ?? fromEnv.configFile
  let file: { path: string; values: RawConfig } | undefined
  if (path !== undefined) {
    let bytes: Uint8Array
    try {
      bytes = await read(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
      const via = flags.configFile !== undefined ? '--config' : 'TLSMESH_CONFIG'
      throw new InvalidOptionError(`${via}: cannot read ${path} (${code})`)
    }
    if (bytes.byteLength > MAX_CONFIG_FILE_BYTES) {
      throw new InvalidOptionError(`${path}: over ${MAX_CONFIG_FILE_BYTES} bytes; is it the right file?`)
    }
    file = { path, values: parseConfigFile(path, new TextDecoder().decode(bytes)) }
  }
  const resolved = resolveOptions({ flags: flags.values, env: fromEnv.values, ...(file ? { file } : {}) })
  const warnings = [
    ...fromEnv.unknown.map(
      (key) => `unknown environment variable ${key} ignored (see "tlsmeshd --help" for the TLSMESH_* names)`,
    ),
    ...settingWarnings(resolved),
  ]
  const kind = flags.printConfig ? 'print' : flags.checkConfig ? 'check' : 'run'
  return { kind, warnings, ...resolved }
}

/**
 * Settings that are valid but will not do what they say. HAProxy reads only the last 3 keys of its
 * file (previous, current, next), so its tickets resume for one to two rotations, whatever
 * --ticket-key-lifetime says; warned only when the lifetime was set, not for the defaults.
 */
export function settingWarnings(resolved: ResolvedConfig): string[] {
  const keys = resolved.options.ticketKeys
  if (keys?.files?.format !== 'haproxy' || resolved.origins.ticketKeyLifetime === 'default') return []
  if (keys.decryptLifetimeMs <= keys.rotationMs) return []
  return [
    `--ticket-key-lifetime ${formatDuration(keys.decryptLifetimeMs)}: HAProxy keeps 3 keys, so its tickets ` +
      `resume for ${formatDuration(keys.rotationMs)} to ${formatDuration(2 * keys.rotationMs)} ` +
      `(one to two --ticket-key-rotation periods), not longer`,
  ]
}
