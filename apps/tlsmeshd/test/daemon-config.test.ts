import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { CONFIG_FIELDS, FIELD_NAMES, type FieldName, type RawConfig } from '../src/config-fields.ts'
import { loadDaemonConfig, parseConfigFile } from '../src/config-file.ts'
import { DEFAULT_REPLICA_MAX_BYTES, LOG_LEVELS } from '../src/constants.ts'
import { InvalidOptionError, parseFlags, readEnv, resolveOptions, USAGE } from '../src/daemon-options.ts'
import { formatConfig } from '../src/print-config.ts'

const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const SEED = `/ip4/10.0.0.5/tcp/7645/p2p/${PEER}`
const FILE = '/etc/tlsmesh/tlsmeshd.yaml'
const KEY_HEX = 'ab'.repeat(32)

type Source = 'flag' | 'env' | 'file'
const TICKET_CONTEXT = ['--realm', 'www', '--ticket-keys', 'www']

/** Resolves one setting given by one source, with `context` (other settings, as flags) around it. */
function resolveWith(source: Source, name: FieldName, value: string | string[], context: string[] = []) {
  const field = CONFIG_FIELDS[name]
  const base = ['--insecure-dev', ...context]
  const values = Array.isArray(value) ? value : [value]
  if (source === 'flag') {
    const argv = [...base, ...values.flatMap((v) => [`--${field.flag}=${v}`])]
    return resolveOptions({ flags: parseFlags(argv).values })
  }
  if (source === 'env') {
    return resolveOptions({
      flags: parseFlags(base).values,
      env: readEnv({ [field.env]: values.join(',') }).values,
    })
  }
  const text = stringify({ [field.key]: field.kind === 'list' ? values : values[0] })
  return resolveOptions({
    flags: parseFlags(base).values,
    file: { path: FILE, values: parseConfigFile(FILE, text) },
  })
}

function refusal(run: () => unknown): InvalidOptionError {
  try {
    run()
  } catch (err) {
    if (err instanceof InvalidOptionError) return err
    throw err
  }
  throw new Error('expected a refusal')
}

/**
 * One invalid value per setting, and what the message must say is allowed. A Record over the field
 * names: a new setting does not compile until it has a case here.
 */
const INVALID: Record<FieldName, { value: string; allowed: RegExp; context?: string[]; sources?: Source[] }> =
  {
    meshKeyFile: { value: KEY_HEX, allowed: /path of a key file.*not shown/ },
    insecureDev: { value: 'maybe', allowed: /true|false/, sources: ['env', 'file'] },
    identityFile: { value: `/key/swarm/psk/1.0.0/`, allowed: /path of a key file/ },
    listen: { value: '0.0.0.0:7645', allowed: /not a multiaddr \(e\.g\. \/ip4\// },
    announce: { value: '10.0.0.5', allowed: /not a multiaddr \(e\.g\. \/ip4\// },
    seeds: { value: 'node-2', allowed: /expected HOST:PORT, \/dns4\/NAME\/tcp\/PORT/ },
    allowPeers: { value: 'node-2', allowed: /not a peer id \(e\.g\. 12D3KooW/ },
    realms: { value: 'a/b', allowed: /1-64 characters of A-Z a-z 0-9 \. _ -/ },
    meshName: { value: 'prod eu', allowed: /1-64 characters/ },
    mdns: { value: 'perhaps', allowed: /true|false/, sources: ['env', 'file'] },
    transportThread: { value: 'two', allowed: /true|false/, sources: ['env', 'file'] },
    admin: {
      value: '0.0.0.0:7646',
      allowed: /must be a loopback address \(127\.0\.0\.0\/8, ::1 or localhost\)/,
    },
    memcache: { value: '10.0.0.5:11211', allowed: /must be a loopback address/ },
    memcacheSocket: { value: `/run/${'x'.repeat(120)}.sock`, allowed: /socket path of 1 to 107 bytes/ },
    memcacheRealm: {
      value: 'api',
      allowed: /not one of the realms served \(www\)/,
      context: ['--realm', 'www', '--memcache', '127.0.0.1:11211'],
    },
    memcacheAllowUsers: {
      value: 'www:data',
      allowed: /"www:data" is not a user name/,
      context: ['--memcache', '127.0.0.1:11211'],
    },
    replicaMaxBytes: { value: '10 parsecs', allowed: /size from 1MiB to 16GiB/ },
    replicaMaxEntries: { value: '0', allowed: /whole number from 1 to/ },
    ticketKeys: {
      value: 'api',
      allowed: /"api" is not one of the realms served \(www\); add --realm api/,
      context: ['--realm', 'www'],
    },
    ticketKeyProposers: {
      value: 'alice',
      allowed: /"alice" is not a peer id/,
      context: ['--realm', 'www', '--ticket-keys', 'www'],
    },
    ticketKeyRotation: {
      value: '3600',
      allowed: /duration from 1s to 7d such as 30s, 15m, 1h or 1h30m/,
      context: TICKET_CONTEXT,
    },
    ticketKeyLifetime: { value: '8d', allowed: /duration from 0s to 7d/, context: TICKET_CONTEXT },
    ticketKeysDir: { value: 'run/keys', allowed: /expected an absolute path/, context: TICKET_CONTEXT },
    ticketKeysFormat: {
      value: 'apache',
      allowed: /"apache" is not one of nginx, haproxy/,
      context: [...TICKET_CONTEXT, '--ticket-keys-dir', '/run/tlsmesh/tickets'],
    },
    onTicketKeys: {
      value: 'nginx -s reload',
      allowed: /needs --ticket-keys-dir DIR/,
      context: TICKET_CONTEXT,
    },
    logLevel: { value: 'verbose', allowed: new RegExp(LOG_LEVELS.join(', ')) },
    logFormat: { value: 'xml', allowed: /one of auto, json, pretty/ },
  }

describe('daemon config: every invalid setting is refused, naming it as the operator wrote it', () => {
  for (const name of FIELD_NAMES) {
    const { value, allowed, context, sources } = INVALID[name]
    const field = CONFIG_FIELDS[name]
    for (const source of sources ?? (['flag', 'env', 'file'] as const)) {
      const where =
        source === 'flag' ? `--${field.flag}` : source === 'env' ? field.env : `${field.key} in ${FILE}`
      it(`${name} from ${source === 'flag' ? 'a flag' : source === 'env' ? 'the environment' : 'the file'}: "${where}"`, () => {
        const err = refusal(() => resolveWith(source, name, value, context))
        expect(err.name).toBe('InvalidOptionError')
        expect(err.code).toBe('invalid-option')
        expect(err.message.startsWith(`${where}:`), err.message).toBe(true)
        expect(err.message).toMatch(allowed)
      })
    }
  }

  it('never echoes a key pasted where a key file path belongs', () => {
    for (const source of ['flag', 'env', 'file'] as const) {
      const err = refusal(() => resolveWith(source, 'meshKeyFile', KEY_HEX))
      expect(err.message).not.toContain(KEY_HEX)
    }
    const pasted = `/key/swarm/psk/1.0.0/\n/base16/\n${KEY_HEX}`
    const err = refusal(() =>
      resolveOptions({ flags: {}, env: readEnv({ TLSMESH_MESH_KEY_FILE: pasted }).values }),
    )
    expect(err.message).toMatch(/^TLSMESH_MESH_KEY_FILE: /)
    expect(err.message).not.toContain(KEY_HEX)
  })

  it('needs a mesh key unless --insecure-dev, and says where one may be given', () => {
    const err = refusal(() => resolveOptions({ flags: {} }))
    expect(err.message).toContain('--mesh-key')
    expect(err.message).toContain('TLSMESH_MESH_KEY_FILE')
    expect(err.message).toContain('mesh-key-file')
  })

  it('refuses an empty allowlist, an empty realm list and no listen address', () => {
    expect(refusal(() => resolveWith('file', 'allowPeers', [])).message).toMatch(
      /allow-peers in .*empty allowlist/,
    )
    expect(refusal(() => resolveWith('env', 'realms', [])).message).toMatch(
      /^TLSMESH_REALMS: at least one realm/,
    )
    expect(refusal(() => resolveWith('file', 'listen', [])).message).toMatch(
      /^listen in .*at least one address/,
    )
    const port = ['--memcache', '127.0.0.1:11211']
    expect(refusal(() => resolveWith('env', 'memcacheAllowUsers', [], port)).message).toMatch(
      /^TLSMESH_MEMCACHE_ALLOW_USERS: an empty list would refuse every client/,
    )
  })

  it('refuses a memcached realm without an endpoint', () => {
    expect(refusal(() => resolveWith('env', 'memcacheRealm', 'default')).message).toMatch(
      /^TLSMESH_MEMCACHE_REALM: needs --memcache HOST:PORT or --memcache-socket PATH/,
    )
  })

  it('refuses a boolean flag given a value, and negating a setting that is not on/off', () => {
    expect(refusal(() => parseFlags(['--mdns=maybe'])).message).toContain('--mdns')
    expect(refusal(() => parseFlags(['--no-realm'])).message).toContain('--no-realm: unknown option')
  })
})

describe('daemon config file', () => {
  const parse = (text: string) => parseConfigFile(FILE, text)

  it('reads every setting by its key; numbers where strings are expected are taken as written', () => {
    const values = parse(`
mesh-key-file: /etc/tlsmesh/mesh.key
insecure-dev: false
identity-file: /var/lib/tlsmesh/identity.key
listen: /ip4/0.0.0.0/tcp/7645
announce: [/ip4/10.0.0.5/tcp/7645]
seeds:
  - ${SEED}
allow-peers: [${PEER}]
realms: [www, api]
mesh-name: prod-eu
mdns: true
transport-thread: true
admin: 127.0.0.1:7646
memcache: 127.0.0.1:11211
memcache-socket: /run/tlsmesh/memcache.sock
memcache-realm: api
memcache-allow-users: [www-data]
replica-max-bytes: 128MiB
replica-max-entries: 50000
ticket-keys: [www]
ticket-key-proposers: [${PEER}]
ticket-key-rotation: 30m
ticket-key-lifetime: 6h
ticket-keys-dir: /run/tlsmesh/tickets
ticket-keys-format: haproxy
on-ticket-keys: systemctl reload haproxy
log-level: debug
log-format: json
`)
    expect(Object.keys(values).sort()).toEqual([...FIELD_NAMES].sort())
    const { options } = resolveOptions({ flags: {}, file: { path: FILE, values } })
    expect(options).toEqual({
      meshKeyFile: '/etc/tlsmesh/mesh.key',
      insecureDev: false,
      identityFile: '/var/lib/tlsmesh/identity.key',
      listen: ['/ip4/0.0.0.0/tcp/7645'],
      announce: ['/ip4/10.0.0.5/tcp/7645'],
      seeds: [SEED],
      allowPeers: [PEER],
      realms: ['www', 'api'],
      meshName: 'prod-eu',
      mdns: true,
      transportThread: true,
      admin: { host: '127.0.0.1', port: 7646 },
      memcache: {
        tcp: { host: '127.0.0.1', port: 11211 },
        socketPath: '/run/tlsmesh/memcache.sock',
        realm: 'api',
        allowUsers: ['www-data'],
      },
      replica: { maxBytesPerRealm: 128 * 1024 * 1024, maxEntriesPerRealm: 50_000 },
      ticketKeys: {
        realms: ['www'],
        rotationMs: 30 * 60_000,
        decryptLifetimeMs: 6 * 3_600_000,
        proposers: [PEER],
        files: { dir: '/run/tlsmesh/tickets', format: 'haproxy', hook: 'systemctl reload haproxy' },
      },
      logLevel: 'debug',
      logFormat: 'json',
    })
  })

  it('treats an empty file and a key without a value as nothing set', () => {
    expect(parse('')).toEqual({})
    expect(parse('# only a comment\n')).toEqual({})
    expect(parse('seeds:\n')).toEqual({})
  })

  const bad: Record<string, { text: string; message: RegExp }> = {
    'an unknown key, pointing to the right one': {
      text: 'seed: [x]\n',
      message: /unknown setting "seed" \(did you mean "seeds"\? known: mesh-key-file, /,
    },
    'the flag name of a renamed key': { text: 'mesh-key: /k\n', message: /did you mean "mesh-key-file"/ },
    'a key given twice': { text: 'realms: [a]\nrealms: [b]\n', message: /not valid YAML/ },
    'broken YAML': { text: 'realms: [www\n', message: /not valid YAML/ },
    'a list at the top': {
      text: '- www\n',
      message: /expected a mapping of settings \(key: value\), got a list/,
    },
    'a mapping where a string belongs': {
      text: 'admin: {host: x}\n',
      message: /^admin in .*: expected a string, got a mapping/,
    },
    'a number in a list': {
      text: 'realms: [www, 7]\n',
      message: /^realms in .*: expected a list of strings, got a number/,
    },
    'a word where true or false belongs': {
      text: 'mdns: yes\n',
      message: /^mdns in .*: expected true or false, got a string/,
    },
  }
  for (const [what, { text, message }] of Object.entries(bad)) {
    it(`refuses ${what}, naming the file`, () => {
      const err = refusal(() => parse(text))
      expect(err.message).toContain(FILE)
      expect(err.message).toMatch(message)
    })
  }
})

describe('daemon config precedence: flags > environment > file > defaults', () => {
  const file: RawConfig = parseConfigFile(
    FILE,
    'realms: [from-file]\nlog-level: warn\nseeds: [' +
      SEED +
      ']\nreplica-max-bytes: 2MiB\ninsecure-dev: true\n',
  )

  it('takes each setting from the highest source that gives it, and remembers which', () => {
    const env = readEnv({ TLSMESH_REALMS: 'from-env-1, from-env-2', TLSMESH_LOG_LEVEL: 'error' }).values
    const flags = parseFlags(['--realm', 'from-flag']).values
    const resolved = resolveOptions({ flags, env, file: { path: FILE, values: file } })
    expect(resolved.options.realms).toEqual(['from-flag'])
    expect(resolved.options.logLevel).toBe('error')
    expect(resolved.options.seeds).toEqual([SEED])
    expect(resolved.options.replica.maxBytesPerRealm).toBe(2 * 1024 * 1024)
    expect(resolved.options.admin).toEqual({ host: '127.0.0.1', port: 7646 })
    expect(resolved.origins).toMatchObject({
      realms: 'flag',
      logLevel: 'env',
      seeds: 'file',
      replicaMaxBytes: 'file',
      admin: 'default',
    })
    expect(resolved.configFile).toBe(FILE)
  })

  it('lets the environment override the file, and a list replace rather than extend', () => {
    const env = readEnv({ TLSMESH_REALMS: 'from-env-1,from-env-2', TLSMESH_SEEDS: '' }).values
    const { options } = resolveOptions({ flags: {}, env, file: { path: FILE, values: file } })
    expect(options.realms).toEqual(['from-env-1', 'from-env-2'])
    // An empty list variable clears the file's list: the way to say "no seeds" from a unit file.
    expect(options.seeds).toEqual([])
    expect(options.logLevel).toBe('warn')
  })

  it('lets --no-mdns and TLSMESH_MDNS=false turn off what the file turned on', () => {
    const on = parseConfigFile(FILE, 'mdns: true\ninsecure-dev: true\n')
    expect(resolveOptions({ flags: {}, file: { path: FILE, values: on } }).options.mdns).toBe(true)
    const env = readEnv({ TLSMESH_MDNS: 'off' }).values
    expect(resolveOptions({ flags: {}, env, file: { path: FILE, values: on } }).options.mdns).toBe(false)
    const flags = parseFlags(['--no-mdns']).values
    const envOn = readEnv({ TLSMESH_MDNS: '1' }).values
    expect(resolveOptions({ flags, env: envOn, file: { path: FILE, values: on } }).options.mdns).toBe(false)
  })

  it('treats an empty string variable as unset, and reports unknown TLSMESH_ variables', () => {
    const read = readEnv({ TLSMESH_MEMCACHE: '', TLSMESH_LOG_LEVLE: 'debug', PATH: '/bin' })
    expect(read.values).toEqual({})
    expect(read.unknown).toEqual(['TLSMESH_LOG_LEVLE'])
  })
})

describe('loadDaemonConfig', () => {
  const files = (contents: Record<string, string>) => async (path: string) => {
    const text = contents[path]
    if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' })
    return new TextEncoder().encode(text)
  }

  it('reads the file named by --config, else by TLSMESH_CONFIG, and warns of unknown variables', async () => {
    const read = files({
      '/a.yaml': 'realms: [a]\ninsecure-dev: true\n',
      '/b.yaml': 'realms: [b]\ninsecure-dev: true\n',
    })
    const viaEnv = await loadDaemonConfig([], { TLSMESH_CONFIG: '/b.yaml', TLSMESH_NOPE: '1' }, read)
    expect(viaEnv).toMatchObject({ kind: 'run', configFile: '/b.yaml', options: { realms: ['b'] } })
    expect(viaEnv.kind === 'run' && viaEnv.warnings).toEqual([expect.stringContaining('TLSMESH_NOPE')])
    const viaFlag = await loadDaemonConfig(['--config', '/a.yaml'], { TLSMESH_CONFIG: '/b.yaml' }, read)
    expect(viaFlag).toMatchObject({ configFile: '/a.yaml', options: { realms: ['a'] } })
  })

  it('names the flag or variable when the file cannot be read', async () => {
    const read = files({})
    await expect(loadDaemonConfig(['--config', '/missing.yaml'], {}, read)).rejects.toThrow(
      /^--config: cannot read \/missing\.yaml \(ENOENT\)$/,
    )
    await expect(loadDaemonConfig([], { TLSMESH_CONFIG: '/missing.yaml' }, read)).rejects.toThrow(
      /^TLSMESH_CONFIG: cannot read/,
    )
  })

  it('returns help before reading anything, and print for --print-config', async () => {
    expect(await loadDaemonConfig(['--help', '--config', '/missing.yaml'], {}, files({}))).toEqual({
      kind: 'help',
    })
    expect(await loadDaemonConfig(['--print-config', '--insecure-dev'], {}, files({}))).toMatchObject({
      kind: 'print',
    })
  })
})

describe('--print-config', () => {
  it('prints YAML that reads back to the same options, with where each value came from', () => {
    const file = parseConfigFile(FILE, `realms: [www, api]\nseeds: ["${SEED}"]\nreplica-max-bytes: 8MiB\n`)
    const env = readEnv({ TLSMESH_LOG_LEVEL: 'debug', TLSMESH_MESH_KEY_FILE: '/etc/tlsmesh/mesh.key' }).values
    const flags = parseFlags(['--admin', '[::1]:9000', '--memcache-socket', '/run/tlsmesh/mc.sock']).values
    const resolved = resolveOptions({ flags, env, file: { path: FILE, values: file } })
    const text = formatConfig(resolved)
    expect(text).toContain('log-level: debug  # from TLSMESH_LOG_LEVEL')
    expect(text).toContain('admin: "[::1]:9000"  # from --admin')
    expect(text).toMatch(/^realms: {2}# from \/etc\/tlsmesh\/tlsmeshd\.yaml$/m)
    expect(text).toContain(`replica-max-entries: 100000  # default`)
    expect(text).toContain('# identity-file:  # default: a new identity, so a new peer id, each run')
    const again = resolveOptions({
      flags: {},
      file: { path: '/printed.yaml', values: parseConfigFile('/printed.yaml', text) },
    })
    expect(again.options).toEqual(resolved.options)
  })

  it('prints ticket key settings as durations that read back the same', () => {
    const flags = parseFlags([
      '--insecure-dev',
      '--realm',
      'www',
      '--ticket-keys',
      'www',
      '--ticket-key-rotation',
      '90m',
      '--ticket-keys-dir',
      '/run/tlsmesh/tickets',
      '--on-ticket-keys',
      'nginx -s reload',
    ]).values
    const resolved = resolveOptions({ flags })
    const text = formatConfig(resolved)
    expect(text).toContain('ticket-key-rotation: 1h30m  # from --ticket-key-rotation')
    expect(text).toContain('ticket-key-lifetime: 12h  # default')
    expect(text).toContain('ticket-keys-format: nginx  # default')
    const again = resolveOptions({
      flags: {},
      file: { path: '/printed.yaml', values: parseConfigFile('/printed.yaml', text) },
    })
    expect(again.options).toEqual(resolved.options)
  })

  it('shows the mesh key as the path it is, never its contents', () => {
    const resolved = resolveOptions({ flags: parseFlags(['--mesh-key', '/etc/tlsmesh/mesh.key']).values })
    expect(formatConfig(resolved)).toContain('mesh-key-file: /etc/tlsmesh/mesh.key  # from --mesh-key')
    expect(resolved.options.replica.maxBytesPerRealm).toBe(DEFAULT_REPLICA_MAX_BYTES)
  })
})

describe('--help', () => {
  it('lists every setting with its flag, variable and file key', () => {
    for (const name of FIELD_NAMES) {
      const field = CONFIG_FIELDS[name]
      expect(USAGE).toContain(`--${field.flag}`)
      expect(USAGE).toContain(field.env)
      expect(USAGE).toContain(field.key)
    }
    expect(USAGE).toContain('--config FILE')
    expect(USAGE).toContain('--print-config')
  })
})
