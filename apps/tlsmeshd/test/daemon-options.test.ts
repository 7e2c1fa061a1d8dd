import { describe, expect, it } from 'vitest'
import {
  DEFAULT_ADMIN,
  DEFAULT_LISTEN,
  DEFAULT_REPLICA_MAX_BYTES,
  DEFAULT_REPLICA_MAX_ENTRIES,
  LOG_LEVELS,
} from '../src/constants.ts'
import { InvalidOptionError, parseDaemonArgs, parseHostPort, USAGE } from '../src/daemon-options.ts'

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
    'a seed that is not a multiaddr': { argv: [...KEY, '--seed', 'node-2:7645'], names: '--seed' },
    'a seed without /p2p/': { argv: [...KEY, '--seed', '/ip4/10.0.0.5/tcp/7645'], names: '--seed' },
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

  it('lists the allowed log levels when refusing one', () => {
    expect(refusal([...KEY, '--log-level', 'verbose']).message).toContain(LOG_LEVELS.join(', '))
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
