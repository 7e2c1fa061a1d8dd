import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMeshKey, DEFAULT_MESH_NAME as MESH_DEFAULT_MESH_NAME } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONFIG_FIELDS, FIELD_NAMES } from '../src/config-fields.ts'
import { loadDaemonConfig, parseConfigFile } from '../src/config-file.ts'
import {
  DEFAULT_MESH_NAME,
  DEFAULT_VALUES,
  formatSize,
  HELP_WIDTH,
  InvalidOptionError,
  parseFlags,
  parseSize,
  resolveOptions,
  USAGE,
} from '../src/daemon-options.ts'
import { formatConfig } from '../src/print-config.ts'
import { checkNamedFiles, type SettingContext } from '../src/startup-checks.ts'

const noFiles = async (path: string): Promise<Uint8Array> => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
}

describe('--help', () => {
  it('has no line over 80 columns', () => {
    expect(HELP_WIDTH).toBe(80)
    const long = USAGE.split('\n').filter((line) => line.length > HELP_WIDTH)
    expect(long).toEqual([])
  })

  it('shows each setting default, or what holds without it', () => {
    expect(USAGE).toContain('(default: 64MiB)')
    expect(USAGE).toContain('(default: 127.0.0.1:7646)')
    expect(USAGE).toContain('(required, unless --insecure-dev)')
    expect(USAGE).toContain('--check-config')
    expect(USAGE).toContain('--version')
  })
})

describe('--version and --check-config', () => {
  it('answer --version before reading anything', async () => {
    expect(await loadDaemonConfig(['--version', '--config', '/missing.yaml'], {}, noFiles)).toEqual({
      kind: 'version',
    })
  })

  it('--check-config loads and checks the whole configuration', async () => {
    expect(await loadDaemonConfig(['--check-config', '--insecure-dev'], {}, noFiles)).toMatchObject({
      kind: 'check',
      options: { insecureDev: true },
    })
    await expect(loadDaemonConfig(['--check-config', '--realm', 'a b'], {}, noFiles)).rejects.toThrow(
      InvalidOptionError,
    )
  })

  it('names an unknown or incomplete flag first', () => {
    expect(() => parseFlags(['--admni', 'x'])).toThrow(/^--admni: unknown option/)
    expect(() => parseFlags(['--admin'])).toThrow(/^--admin: needs a value$/)
  })
})

describe('sizes', () => {
  it('take kB, MB, GB as powers of 1000 and K, KiB, M, MiB, G, GiB as powers of 1024', () => {
    const cases: Array<[string, number]> = [
      ['64MB', 64_000_000],
      ['64mb', 64_000_000],
      ['2000kB', 2_000_000],
      ['1GB', 1_000_000_000],
      ['64M', 64 * 1024 ** 2],
      ['64MiB', 64 * 1024 ** 2],
      ['2048K', 2048 * 1024],
      ['2048KiB', 2048 * 1024],
      ['1G', 1024 ** 3],
      ['16GiB', 16 * 1024 ** 3],
      ['2000000', 2_000_000],
      ['2000000B', 2_000_000],
      [' 8 MiB ', 8 * 1024 ** 2],
    ]
    for (const [text, bytes] of cases) expect(parseSize('--replica-max-bytes', text), text).toBe(bytes)
  })

  it('refuses what is not a size, or out of bounds, naming the setting', () => {
    for (const text of ['64Mb/s', '1.5GB', '512kB', '17GiB', 'MB', '-1MB']) {
      expect(() => parseSize('--replica-max-bytes', text), text).toThrow(
        /^--replica-max-bytes: expected a size/,
      )
    }
  })

  it('print as they read back', () => {
    expect(formatSize(64 * 1024 ** 2)).toBe('64MiB')
    expect(formatSize(16 * 1024 ** 3)).toBe('16GiB')
    expect(formatSize(64_000_000)).toBe('62500KiB')
    expect(formatSize(1_048_577)).toBe('1048577')
    for (const bytes of [1024 ** 2, 64_000_000, 1_048_577, 3 * 1024 ** 3]) {
      expect(parseSize('x', formatSize(bytes))).toBe(bytes)
    }
  })
})

describe('--print-config shows the defaults', () => {
  it('as values where they apply, commented out where they need another setting', () => {
    const resolved = resolveOptions({ flags: parseFlags(['--insecure-dev']).values })
    const text = formatConfig(resolved)
    expect(text).not.toContain('(not set)')
    expect(text).toContain('replica-max-bytes: 64MiB  # default')
    expect(text).toContain('# mesh-name: default  # default')
    expect(text).toContain('# ticket-key-rotation: 1h  # default, with --ticket-keys')
    expect(text).toContain('# ticket-keys-format: nginx  # default, with --ticket-keys-dir')
    expect(text).toContain('# memcache:  # default: off')
    // Every setting appears, set or not, and the whole reads back to the same options.
    for (const name of FIELD_NAMES) expect(text).toContain(`${CONFIG_FIELDS[name].key}:`)
    const again = resolveOptions({
      flags: {},
      file: { path: '/printed.yaml', values: parseConfigFile('/printed.yaml', text) },
    })
    expect(again.options).toEqual(resolved.options)
  })

  it('uses the mesh package default mesh name', () => {
    expect(DEFAULT_MESH_NAME).toBe(MESH_DEFAULT_MESH_NAME)
    expect(DEFAULT_VALUES.meshName).toBe(MESH_DEFAULT_MESH_NAME)
  })
})

describe('checkNamedFiles', () => {
  let dir: string
  let meshKey: string
  const flags: SettingContext = { origins: {} }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-named-files-'))
    meshKey = join(dir, 'mesh.key')
    writeFileSync(meshKey, generateMeshKey(), { mode: 0o600 })
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  const options = (argv: string[]) => resolveOptions({ flags: parseFlags(argv).values }).options

  it('passes a readable key, an identity that can be created and a directory that can be made', async () => {
    await expect(
      checkNamedFiles(
        options([
          '--mesh-key',
          meshKey,
          '--identity',
          join(dir, 'new', 'identity.key'),
          '--ticket-keys',
          'default',
          '--ticket-keys-dir',
          join(dir, 'run', 'tickets'),
          '--memcache-socket',
          join(dir, 'mc.sock'),
        ]),
        flags,
      ),
    ).resolves.toBeUndefined()
  })

  it('names the setting as written: a flag, a variable or a file key', async () => {
    const missing = join(dir, 'missing.key')
    await expect(checkNamedFiles(options(['--mesh-key', missing]), flags)).rejects.toThrow(
      `--mesh-key ${missing}: no such file`,
    )
    await expect(
      checkNamedFiles(options(['--mesh-key', missing]), { origins: { meshKeyFile: 'env' } }),
    ).rejects.toThrow(`TLSMESH_MESH_KEY_FILE=${missing}: no such file`)
    await expect(
      checkNamedFiles(options(['--mesh-key', missing]), {
        origins: { meshKeyFile: 'file' },
        configFile: '/etc/tlsmesh/tlsmeshd.yaml',
      }),
    ).rejects.toThrow(`mesh-key-file ${missing} (in /etc/tlsmesh/tlsmeshd.yaml): no such file`)
  })

  it('refuses a socket whose directory is missing and an identity that is not one', async () => {
    const socket = join(dir, 'file', 'mc.sock')
    writeFileSync(join(dir, 'file'), '')
    await expect(
      checkNamedFiles(options(['--insecure-dev', '--memcache-socket', socket]), flags),
    ).rejects.toThrow(`--memcache-socket ${socket}: its directory: not a directory`)
    const identity = join(dir, 'garbage.key')
    writeFileSync(identity, 'garbage', { mode: 0o600 })
    await expect(checkNamedFiles(options(['--insecure-dev', '--identity', identity]), flags)).rejects.toThrow(
      new RegExp(`^--identity ${identity}: not a libp2p private key`),
    )
    mkdirSync(join(dir, 'a-dir'), { mode: 0o700 })
    await expect(checkNamedFiles(options(['--mesh-key', join(dir, 'a-dir')]), flags)).rejects.toThrow(
      `--mesh-key ${join(dir, 'a-dir')}: is a directory`,
    )
  })
})

describe('warnings about settings that will not do what they say', () => {
  const noFiles = async (): Promise<Uint8Array> => {
    throw new Error('no files here')
  }
  const haproxy = [
    '--mesh-key',
    '/k/mesh.key',
    '--ticket-keys',
    'default',
    '--ticket-keys-dir',
    '/run/tlsmesh/keys',
    '--ticket-keys-format',
    'haproxy',
  ]

  it('warns when a ticket key lifetime is set that HAProxy cannot keep', async () => {
    const loaded = await loadDaemonConfig(
      ['--check-config', ...haproxy, '--ticket-key-lifetime', '12h'],
      {},
      noFiles,
    )
    expect(loaded).toMatchObject({ kind: 'check' })
    const warnings = (loaded as { warnings: string[] }).warnings
    expect(warnings).toEqual([
      '--ticket-key-lifetime 12h: HAProxy keeps 3 keys, so its tickets resume for 1h to 2h (one to two --ticket-key-rotation periods), not longer',
    ])
  })

  it('says nothing for the defaults, for nginx, or for a lifetime HAProxy keeps', async () => {
    for (const args of [
      haproxy,
      [...haproxy, '--ticket-key-lifetime', '1h'],
      [
        '--mesh-key',
        '/k/mesh.key',
        '--mesh-key',
        '/k/mesh.key',
        '--ticket-keys',
        'default',
        '--ticket-keys-dir',
        '/k',
        '--ticket-key-lifetime',
        '12h',
      ],
    ]) {
      const loaded = await loadDaemonConfig(['--check-config', ...args], {}, noFiles)
      expect((loaded as { warnings: string[] }).warnings, args.join(' ')).toEqual([])
    }
  })
})
