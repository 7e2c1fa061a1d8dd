// Start-up refusals of the real tlsmeshd process: each is one line on stderr naming the setting and
// its value, exit 2, printed once (not also as a fatal log). The ports are taken by a listener this
// test opens. And `--check-config`, which opens the files but binds nothing, like `nginx -t`.

import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from './lib/managed-process.ts'
import { createMeshKey } from './lib/tlsmeshd-fleet.ts'

const TLSMESHD = fileURLToPath(new URL('../../apps/tlsmeshd/bin/tlsmeshd.js', import.meta.url))

interface Exit {
  code: number | null
  stdout: string
  stderr: string
}

function tlsmeshd(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TLSMESHD, '--log-format', 'json', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : (err.code as number | null), stdout, stderr }),
    )
  })
}

/** One line on stderr, and no error or fatal log line repeating it on stdout. */
function expectOneLine(run: Exit, line: string): void {
  expect(run.code, run.stderr).toBe(2)
  expect(run.stderr).toBe(`tlsmeshd: ${line}\n`)
  expect(run.stdout).not.toMatch(/"level":"(error|fatal)"/)
}

describe('tlsmeshd start-up errors name the setting', () => {
  let dir: string
  let meshKey: string
  let taken: Server
  let port: number

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-startup-errors-'))
    meshKey = join(dir, 'mesh.key')
    await createMeshKey(meshKey)
    taken = createServer()
    await new Promise<void>((ready) => taken.listen(0, '127.0.0.1', ready))
    port = (taken.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise((closed) => taken.close(closed))
    rmSync(dir, { recursive: true, force: true })
  })

  it('--admin on a port in use', async () => {
    const run = await tlsmeshd([
      '--mesh-key',
      meshKey,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--admin',
      `127.0.0.1:${port}`,
    ])
    expectOneLine(run, `--admin 127.0.0.1:${port}: address in use`)
  }, 90_000)

  it('--listen on a port in use: no libp2p advice, no stack trace', async () => {
    const listen = `/ip4/127.0.0.1/tcp/${port}`
    const run = await tlsmeshd(['--mesh-key', meshKey, '--listen', listen, '--admin', '127.0.0.1:0'])
    expectOneLine(run, `--listen ${listen}: address in use`)
    expect(run.stdout + run.stderr).not.toContain('faultTolerance')
  }, 90_000)

  it('--memcache on a port in use, named as the variable it came from', async () => {
    const run = await tlsmeshd(
      ['--mesh-key', meshKey, '--listen', '/ip4/127.0.0.1/tcp/0', '--admin', '127.0.0.1:0'],
      { TLSMESH_MEMCACHE: `127.0.0.1:${port}` },
    )
    expectOneLine(run, `TLSMESH_MEMCACHE=127.0.0.1:${port}: address in use`)
  }, 90_000)

  it('--mesh-key naming no file', async () => {
    const run = await tlsmeshd(['--mesh-key', 'nope.key', '--admin', '127.0.0.1:0'])
    expectOneLine(run, '--mesh-key nope.key: no such file')
  }, 90_000)

  it('an unknown flag', async () => {
    const run = await tlsmeshd(['--mesh-key', meshKey, '--admni', '127.0.0.1:0'])
    expectOneLine(run, '--admni: unknown option (see "tlsmeshd --help")')
  }, 90_000)
})

describe('tlsmeshd --check-config', () => {
  let dir: string
  let meshKey: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-check-config-'))
    meshKey = join(dir, 'mesh.key')
    await createMeshKey(meshKey)
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('says "configuration OK", exits 0, binds nothing and creates nothing', async () => {
    const admin = await freePort()
    const identity = join(dir, 'node', 'identity.key')
    const config = join(dir, 'tlsmeshd.yaml')
    writeFileSync(
      config,
      `mesh-key-file: ${meshKey}\nidentity-file: ${identity}\nadmin: 127.0.0.1:${admin}\nrealms: [www]\nticket-keys: [www]\nticket-keys-dir: ${join(dir, 'tickets')}\n`,
    )
    // The admin port is held by this test meanwhile: a check that bound it would fail.
    const holder = createServer()
    await new Promise<void>((ready) => holder.listen(admin, '127.0.0.1', ready))
    try {
      const run = await tlsmeshd([
        '--check-config',
        '--config',
        config,
        '--listen',
        `/ip4/127.0.0.1/tcp/${admin}`,
      ])
      expect(run).toEqual({ code: 0, stdout: 'configuration OK\n', stderr: '' })
    } finally {
      await new Promise((closed) => holder.close(closed))
    }
    expect(() => readFileSync(identity)).toThrow(/ENOENT/)
    expect(() => readFileSync(join(dir, 'tickets'))).toThrow(/ENOENT/)
  }, 90_000)

  it('refuses a missing key file, a key others can read and a bad value, in one line each, exit 2', async () => {
    expectOneLine(
      await tlsmeshd(['--check-config', '--mesh-key', join(dir, 'nope.key')]),
      `--mesh-key ${join(dir, 'nope.key')}: no such file`,
    )
    const open = join(dir, 'open.key')
    await createMeshKey(open)
    chmodSync(open, 0o644)
    expectOneLine(
      await tlsmeshd(['--check-config'], { TLSMESH_MESH_KEY_FILE: open }),
      `TLSMESH_MESH_KEY_FILE=${open}: permissions 0644 are too open (must not be accessible by group or others; chmod 600)`,
    )
    const notKey = join(dir, 'not-a-key')
    writeFileSync(notKey, 'hello\n', { mode: 0o600 })
    const garbled = await tlsmeshd(['--check-config', '--mesh-key', notKey])
    expect(garbled.code).toBe(2)
    expect(garbled.stderr).toMatch(new RegExp(`^tlsmeshd: --mesh-key ${notKey}: expected three lines .*\\n$`))
    expectOneLine(
      await tlsmeshd(['--check-config', '--mesh-key', meshKey, '--replica-max-bytes', '64 parsecs']),
      '--replica-max-bytes: expected a size from 1MiB to 16GiB (bytes, or with kB, MB, GB: powers of 1000, or K, KiB, M, MiB, G, GiB: powers of 1024), got "64 parsecs"',
    )
    const file = join(dir, 'file-in-the-way')
    writeFileSync(file, '')
    const dirRun = await tlsmeshd([
      '--check-config',
      '--mesh-key',
      meshKey,
      '--ticket-keys',
      'default',
      '--ticket-keys-dir',
      file,
    ])
    expectOneLine(dirRun, `--ticket-keys-dir ${file}: not a directory`)
  }, 90_000)

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../../apps/tlsmeshd/package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    expect(await tlsmeshd(['--version'])).toEqual({ code: 0, stdout: `tlsmeshd ${version}\n`, stderr: '' })
  })
})
