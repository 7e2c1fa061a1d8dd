import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseMeshKey } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Daemon, startDaemon } from '../../tlsmeshd/src/daemon.ts'
import { devOptions, silentLogger } from '../../tlsmeshd/test/test-daemon.ts'

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI as an operator would, from the repository root. Asynchronous: the daemon it talks to may be this process. */
function tlsmesh(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['apps/tlsmesh/bin/tlsmesh.js', ...args],
      { cwd: ROOT, timeout: 10_000 },
      (err, stdout, stderr) => {
        done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
      },
    )
  })
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
  const { port } = server.address() as { port: number }
  await new Promise((closed) => server.close(closed))
  return port
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlsmesh-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('tlsmesh keygen', () => {
  it('writes an owner-only mesh key, refuses to overwrite it, and replaces it with --force', async () => {
    const out = join(dir, 'mesh.key')
    const wrote = await tlsmesh('keygen', '--out', out)
    expect(wrote.code).toBe(0)
    expect(wrote.stderr).toContain(out)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    const key = await readFile(out)
    expect(() => parseMeshKey(key)).not.toThrow()

    const refused = await tlsmesh('keygen', '--out', out)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('--force')
    expect(await readFile(out)).toEqual(key)

    const forced = await tlsmesh('keygen', '--out', out, '--force')
    expect(forced.code).toBe(0)
    const replaced = await readFile(out)
    expect(replaced).not.toEqual(key)
    expect(() => parseMeshKey(replaced)).not.toThrow()
  })

  it('makes a replaced file owner-only, whatever its mode was', async () => {
    const out = join(dir, 'readable.key')
    await writeFile(out, 'old\n', { mode: 0o644 })
    expect((await tlsmesh('keygen', '--out', out, '--force')).code).toBe(0)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
  })

  it('needs --out (a usage error)', async () => {
    const run = await tlsmesh('keygen')
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--out')
  })
})

describe('tlsmesh usage', () => {
  it('exits 2 with the usage when no command is given', async () => {
    const run = await tlsmesh()
    expect(run.code).toBe(2)
    expect(run.stdout + run.stderr).toContain('Usage: tlsmesh <command>')
  })

  it('exits 0 with the usage for --help', async () => {
    const run = await tlsmesh('--help')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('keygen')
  })

  it('exits 2 for an unknown command, including names every object has', async () => {
    for (const command of ['frobnicate', 'toString']) {
      const run = await tlsmesh(command)
      expect(run.code, command).toBe(2)
      expect(run.stderr).toContain(`unknown command "${command}"`)
    }
  })

  it('exits 2 for an unknown option', async () => {
    const run = await tlsmesh('status', '--verbose')
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--verbose')
  })

  it('prints the package version for --version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'apps/tlsmesh/package.json'), 'utf8')) as {
      version: string
    }
    expect(await tlsmesh('--version')).toEqual({ code: 0, stdout: `tlsmesh ${version}\n`, stderr: '' })
  })

  it('prints a command help for "<command> --help" and "help <command>", without running it', async () => {
    for (const command of ['keygen', 'status', 'peers', 'watch']) {
      const asked = await tlsmesh(command, '--help')
      expect(asked.code, command).toBe(0)
      expect(asked.stdout).toMatch(new RegExp(`^Usage: tlsmesh ${command} `))
      expect(await tlsmesh('help', command)).toEqual(asked)
      expect((await tlsmesh(command, '-h')).stdout).toBe(asked.stdout)
    }
    // keygen --help writes no key, though --out is given.
    const out = join(dir, 'not-written.key')
    expect((await tlsmesh('keygen', '--out', out, '--help')).code).toBe(0)
    await expect(stat(out)).rejects.toThrow(/ENOENT/)
  })

  it('exits 2 for help on an unknown command', async () => {
    const run = await tlsmesh('help', 'frobnicate')
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('unknown command "frobnicate"')
  })

  it('wraps every help at 80 columns', async () => {
    const texts = await Promise.all(
      [['--help'], ...['keygen', 'status', 'peers', 'watch'].map((c) => ['help', c])].map((args) =>
        tlsmesh(...args),
      ),
    )
    for (const { stdout } of texts) {
      expect(stdout.length).toBeGreaterThan(0)
      expect(stdout.split('\n').filter((line) => line.length > 80)).toEqual([])
    }
  })
})

describe('tlsmesh status', () => {
  let daemon: Daemon
  let admin: string
  beforeAll(async () => {
    daemon = await startDaemon(devOptions({ realms: ['www'] }), silentLogger)
    admin = `${daemon.adminAddress.host}:${daemon.adminAddress.port}`
  })
  afterAll(async () => {
    await daemon.stop()
  })

  it('exits 3 and says so when it cannot reach tlsmeshd', async () => {
    const port = await closedPort()
    const run = await tlsmesh('status', '--admin', `127.0.0.1:${port}`)
    expect(run.code).toBe(3)
    expect(run.stderr).toContain(`cannot reach tlsmeshd at 127.0.0.1:${port}`)
    expect(run.stdout).toBe('')
  })

  it('prints the status as JSON with --json', async () => {
    const run = await tlsmesh('status', '--admin', admin, '--json')
    expect(run.code).toBe(0)
    const status = JSON.parse(run.stdout)
    expect(status).toMatchObject({ peerId: daemon.mesh.peerId.toString(), connectedPeers: 0 })
    expect(Object.keys(status.realms)).toEqual(['www'])
  })

  it('prints a readable status by default', async () => {
    const run = await tlsmesh('status', '--admin', admin)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`node      ${daemon.mesh.peerId.toString()}`)
    expect(run.stdout).toMatch(/^peers +0 connected$/m)
    expect(run.stdout).toMatch(/^www +0 +0 +0 +0 B$/m)
  })
})
