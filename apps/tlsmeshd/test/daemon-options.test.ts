import { describe, expect, it } from 'vitest'
import {
  DEFAULT_ADMIN,
  DEFAULT_LISTEN,
  DEFAULT_REPLICA_MAX_BYTES,
  DEFAULT_REPLICA_MAX_ENTRIES,
  LOG_LEVELS,
} from '../src/constants.ts'
import {
  formatDuration,
  InvalidOptionError,
  parseDaemonArgs,
  parseDuration,
  parseHostPort,
  USAGE,
} from '../src/daemon-options.ts'

const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const SEED = `/ip4/10.0.0.5/tcp/7645/p2p/${PEER}`
const KEY = ['--mesh-key', '/etc/tlsmesh/mesh.key']

function refusal(argv: string[]): InvalidOptionError {
  try {
    parseDaemonArgs(argv)
  } catch (err) {
    if (err instanceof InvalidOptionError) return err
    throw err
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`)
}

describe('parseDaemonArgs', () => {
  it('applies the defaults', () => {
    expect(parseDaemonArgs(KEY)).toEqual({
      meshKeyFile: '/etc/tlsmesh/mesh.key',
      insecureDev: false,
      listen: [DEFAULT_LISTEN],
      seeds: [],
      realms: ['default'],
      mdns: false,
      transportThread: false,
      admin: { host: '127.0.0.1', port: Number(DEFAULT_ADMIN.split(':')[1]) },
      replica: {
        maxBytesPerRealm: DEFAULT_REPLICA_MAX_BYTES,
        maxEntriesPerRealm: DEFAULT_REPLICA_MAX_ENTRIES,
      },
      logLevel: 'info',
      logFormat: 'auto',
    })
  })

  it('runs without a mesh key only when told --insecure-dev', () => {
    const options = parseDaemonArgs(['--insecure-dev'])
    expect(options).toMatchObject({ insecureDev: true })
    expect(options).not.toHaveProperty('meshKeyFile')
  })

  it('takes every flag, repeatable ones as lists with repeated realms once', () => {
    const seed2 = `/dns4/node-2.example/tcp/7645/p2p/${PEER}`
    expect(
      parseDaemonArgs([
        ...KEY,
        '--identity',
        '/var/lib/tlsmesh/identity.key',
        '--listen',
        '/ip4/0.0.0.0/tcp/7645',
        '--listen',
        '/ip6/::/tcp/7645',
        '--seed',
        SEED,
        '--seed',
        seed2,
        '--realm',
        'www',
        '--realm',
        'api.example_com',
        '--realm',
        'www',
        '--mesh-name',
        'prod-eu',
        '--mdns',
        '--transport-thread',
        '--admin',
        '[::1]:9000',
        '--log-level',
        'debug',
      ]),
    ).toEqual({
      meshKeyFile: '/etc/tlsmesh/mesh.key',
      insecureDev: false,
      identityFile: '/var/lib/tlsmesh/identity.key',
      listen: ['/ip4/0.0.0.0/tcp/7645', '/ip6/::/tcp/7645'],
      seeds: [SEED, seed2],
      realms: ['www', 'api.example_com'],
      meshName: 'prod-eu',
      mdns: true,
      transportThread: true,
      admin: { host: '::1', port: 9000 },
      replica: {
        maxBytesPerRealm: DEFAULT_REPLICA_MAX_BYTES,
        maxEntriesPerRealm: DEFAULT_REPLICA_MAX_ENTRIES,
      },
      logLevel: 'debug',
      logFormat: 'auto',
    })
  })

  it('serves memcached only when asked, for the first realm unless told another', () => {
    expect(parseDaemonArgs(KEY)).not.toHaveProperty('memcache')
    expect(
      parseDaemonArgs([...KEY, '--realm', 'www', '--realm', 'api', '--memcache', 'localhost:11211']),
    ).toMatchObject({ memcache: { tcp: { host: 'localhost', port: 11211 }, realm: 'www' } })
    expect(
      parseDaemonArgs([
        ...KEY,
        '--realm',
        'www',
        '--realm',
        'api',
        '--memcache-socket',
        '/run/tlsmesh.sock',
        '--memcache-realm',
        'api',
      ]),
    ).toEqual(expect.objectContaining({ memcache: { socketPath: '/run/tlsmesh.sock', realm: 'api' } }))
  })

  it('limits the memcached port to the users named, each once', () => {
    const port = [...KEY, '--memcache', '127.0.0.1:11211']
    expect(parseDaemonArgs(port)).not.toHaveProperty('memcache.allowUsers')
    const users = ['--memcache-allow-user', 'www-data', '--memcache-allow-user', 'h2o']
    expect(parseDaemonArgs([...port, ...users, '--memcache-allow-user', 'www-data'])).toMatchObject({
      memcache: { allowUsers: ['www-data', 'h2o'] },
    })
  })

  it('keeps ticket keys for realms it serves, with the library defaults and files only when asked', () => {
    const www = [...KEY, '--realm', 'www', '--realm', 'api']
    expect(parseDaemonArgs(www)).not.toHaveProperty('ticketKeys')
    expect(parseDaemonArgs([...www, '--ticket-keys', 'www'])).toMatchObject({
      realms: ['www', 'api'],
      ticketKeys: { realms: ['www'], rotationMs: 3_600_000, decryptLifetimeMs: 12 * 3_600_000 },
    })
    expect(parseDaemonArgs([...www, '--ticket-keys', 'www'])).not.toHaveProperty('ticketKeys.files')
    expect(
      parseDaemonArgs([
        ...www,
        '--ticket-keys',
        'www',
        '--ticket-keys',
        'api',
        '--ticket-key-rotation',
        '6s',
        '--ticket-key-lifetime',
        '1m30s',
        '--ticket-keys-dir',
        '/run/tlsmesh/tickets',
        '--on-ticket-keys',
        'nginx -s reload',
      ]),
    ).toMatchObject({
      ticketKeys: {
        realms: ['www', 'api'],
        rotationMs: 6000,
        decryptLifetimeMs: 90_000,
        files: { dir: '/run/tlsmesh/tickets', format: 'nginx', hook: 'nginx -s reload' },
      },
    })
  })

  it('returns help for --help and -h', () => {
    expect(parseDaemonArgs(['--help'])).toBe('help')
    expect(parseDaemonArgs(['-h', '--log-level', 'nonsense'])).toBe('help')
    for (const flag of ['--mesh-key', '--insecure-dev', '--seed', '--realm', '--admin', '--log-level']) {
      expect(USAGE).toContain(flag)
    }
  })

  const invalid: Record<string, { argv: string[]; names: string }> = {
    'no mesh key': { argv: [], names: '--mesh-key' },
    'a mesh key flag without its file': { argv: ['--mesh-key'], names: '--mesh-key' },
    'a listen address that is not a multiaddr': {
      argv: [...KEY, '--listen', '0.0.0.0:7645'],
      names: '--listen',
    },
    'a listen address with a bad port': {
      argv: [...KEY, '--listen', '/ip4/0.0.0.0/tcp/x'],
      names: '--listen',
    },
    'a seed without a port': { argv: [...KEY, '--seed', 'node-2'], names: '--seed: "node-2"' },
    'a seed port out of range': { argv: [...KEY, '--seed', 'node-2:70000'], names: '--seed: "node-2:70000"' },
    'a seed that is not a multiaddr': { argv: [...KEY, '--seed', '/ip4/10.0.0.5/tcp'], names: '--seed' },
    'a seed over UDP': { argv: [...KEY, '--seed', '/ip4/10.0.0.5/udp/7645'], names: '--seed' },
    'a seed with a bad host name': { argv: [...KEY, '--seed', 'node_2!:7645'], names: '--seed' },
    'a non-loopback admin address': { argv: [...KEY, '--admin', '0.0.0.0:7646'], names: '--admin' },
    'a LAN admin address': { argv: [...KEY, '--admin', '10.0.0.5:7646'], names: '--admin' },
    'an admin address without a port': { argv: [...KEY, '--admin', '127.0.0.1'], names: '--admin' },
    'an admin port out of range': { argv: [...KEY, '--admin', '127.0.0.1:70000'], names: '--admin' },
    'a realm with a slash': { argv: [...KEY, '--realm', 'a/b'], names: '--realm' },
    'an empty realm': { argv: [...KEY, '--realm', ''], names: '--realm' },
    'a realm too long': { argv: [...KEY, '--realm', 'r'.repeat(65)], names: '--realm' },
    'a bad mesh name': { argv: [...KEY, '--mesh-name', 'prod eu'], names: '--mesh-name' },
    'an unknown log level': { argv: [...KEY, '--log-level', 'verbose'], names: '--log-level' },
    'an unknown flag': { argv: [...KEY, '--peers', '3'], names: '--peers' },
    'a positional argument': { argv: [...KEY, 'start'], names: 'start' },
    'a non-loopback memcached endpoint': {
      argv: [...KEY, '--memcache', '0.0.0.0:11211'],
      names: '--memcache',
    },
    'a memcached realm without an endpoint': {
      argv: [...KEY, '--memcache-realm', 'default'],
      names: '--memcache-realm',
    },
    'ticket keys for a realm not served': {
      argv: [...KEY, '--realm', 'www', '--ticket-keys', 'api'],
      names: '--ticket-keys: "api" is not one of the realms served (www)',
    },
    'ticket keys for a realm whose key realm name is too long': {
      argv: [...KEY, '--realm', 'r'.repeat(60), '--ticket-keys', 'r'.repeat(60)],
      names: `--ticket-keys: "${'r'.repeat(60)}" is too long`,
    },
    'a session realm named like the key realm of another': {
      argv: [...KEY, '--realm', 'www', '--realm', 'www.tickets', '--ticket-keys', 'www'],
      names: '--realm: "www.tickets" is where the ticket keys of --ticket-keys www travel',
    },
    'a rotation without --ticket-keys': {
      argv: [...KEY, '--ticket-key-rotation', '1h'],
      names: '--ticket-key-rotation: needs --ticket-keys REALM',
    },
    'a key directory without --ticket-keys': {
      argv: [...KEY, '--ticket-keys-dir', '/run/k'],
      names: '--ticket-keys-dir: needs --ticket-keys REALM',
    },
    'a key file format without a directory': {
      argv: [...KEY, '--realm', 'www', '--ticket-keys', 'www', '--ticket-keys-format', 'haproxy'],
      names: '--ticket-keys-format: needs --ticket-keys-dir DIR',
    },
    'a rotation under a second': {
      argv: [...KEY, '--realm', 'www', '--ticket-keys', 'www', '--ticket-key-rotation', '500ms'],
      names: '--ticket-key-rotation: expected a duration from 1s to 7d',
    },
    'an empty hook': {
      argv: [
        ...KEY,
        '--realm',
        'www',
        '--ticket-keys',
        'www',
        '--ticket-keys-dir',
        '/run/k',
        '--on-ticket-keys',
        ' ',
      ],
      names: '--on-ticket-keys: expected a command',
    },
    'memcached users without a port': {
      argv: [...KEY, '--memcache-socket', '/run/mc.sock', '--memcache-allow-user', 'www-data'],
      names: '--memcache-allow-user: needs --memcache HOST:PORT',
    },
    'a memcached user that looks like a uid': {
      argv: [...KEY, '--memcache', '127.0.0.1:11211', '--memcache-allow-user', '33'],
      names: '--memcache-allow-user: "33" is not a user name',
    },
    'a memcached user that looks like an option': {
      argv: [...KEY, '--memcache', '127.0.0.1:11211', '--memcache-allow-user=-s'],
      names: '--memcache-allow-user: "-s" is not a user name',
    },
    'a memcached realm not served': {
      argv: [...KEY, '--realm', 'www', '--memcache', '127.0.0.1:11211', '--memcache-realm', 'api'],
      names: '--memcache-realm',
    },
  }
  for (const [name, { argv, names }] of Object.entries(invalid)) {
    it(`refuses ${name}, naming ${names}`, () => {
      const err = refusal(argv)
      expect(err.name).toBe('InvalidOptionError')
      expect(err.code).toBe('invalid-option')
      expect(err.message).toContain(names)
    })
  }

  it('takes seeds by address or name, without a peer id', () => {
    const seeds = [
      '10.0.0.5:7645',
      '[fd00::5]:7645',
      'node-2.example:7645',
      '/ip4/10.0.0.5/tcp/7645',
      '/ip6/fd00::5/tcp/7645',
      '/dns4/tlsmesh.fleet.svc.cluster.local/tcp/7645',
      '/dns6/node-2.example/tcp/7645',
      '/dns/node-2.example/tcp/7645',
    ]
    expect(parseDaemonArgs([...KEY, ...seeds.flatMap((seed) => ['--seed', seed])])).toMatchObject({ seeds })
  })

  it('names --seed on one line when refusing a seed', () => {
    const err = refusal([...KEY, '--seed', 'node-2'])
    expect(err.message).toMatch(/^--seed: "node-2": expected HOST:PORT, /)
    expect(err.message).not.toContain('\n')
  })

  it('lists the allowed log levels when refusing one', () => {
    expect(refusal([...KEY, '--log-level', 'verbose']).message).toContain(LOG_LEVELS.join(', '))
  })
})

describe('durations', () => {
  it('reads units, alone or combined, and prints them back the same', () => {
    const cases: Array<[string, number]> = [
      ['500ms', 500],
      ['30s', 30_000],
      ['15m', 900_000],
      ['1h', 3_600_000],
      ['1h30m', 5_400_000],
      ['12h', 43_200_000],
      ['2d', 172_800_000],
      ['1m1s1ms', 61_001],
    ]
    for (const [text, ms] of cases) {
      expect(parseDuration('--x', text, 0, Number.MAX_SAFE_INTEGER), text).toBe(ms)
      expect(formatDuration(ms)).toBe(text)
    }
    expect(formatDuration(0)).toBe('0s')
    expect(formatDuration(90_000)).toBe('1m30s')
  })

  it('refuses a number without a unit, other units, spaces and values out of range', () => {
    for (const text of ['3600', '1 h', '1y', 'h', '', '1h-', '-1h', '1.5h']) {
      expect(() => parseDuration('--x', text, 0, 10 ** 12), text).toThrow(/^--x: expected a duration/)
    }
    expect(() => parseDuration('--x', '2s', 3000, 10_000)).toThrow(/from 3s to 10s/)
  })
})

describe('parseHostPort', () => {
  it('takes loopback addresses in their usual forms, port 0 included', () => {
    expect(parseHostPort('--admin', '127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(parseHostPort('--admin', '127.1.2.3:7646')).toEqual({ host: '127.1.2.3', port: 7646 })
    expect(parseHostPort('--admin', 'localhost:7646')).toEqual({ host: 'localhost', port: 7646 })
    expect(parseHostPort('--admin', '[::1]:7646')).toEqual({ host: '::1', port: 7646 })
    expect(parseHostPort('--admin', '::1:7646')).toEqual({ host: '::1', port: 7646 })
  })

  it('refuses anything reachable from outside the host', () => {
    for (const value of ['[::]:7646', 'example.com:7646', '192.168.1.1:7646', ':7646']) {
      expect(() => parseHostPort('--admin', value), value).toThrow(/--admin: must be a loopback address/)
    }
  })
})
