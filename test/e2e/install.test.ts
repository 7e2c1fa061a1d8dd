// The release as an operator and an embedder get it: `pnpm release` builds the artifacts, then each is
// installed the way its README says, with nothing of the workspace in reach (plain Node, a temporary
// prefix or project, no tsx), and each installed tlsmeshd runs a 3-node fleet that replicates a
// record written through memcached on one node to the others.
import { execFile } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stopAll } from './lib/managed-process.ts'
import { memcachedCommand } from './lib/memcached-text.ts'
import { createMeshKey, startMeshedTlsmeshd, type Tlsmeshd, waitForReplicas } from './lib/tlsmeshd-fleet.ts'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'tlsmesh-install-'))
const releaseDir = join(work, 'release')
/** The environment of a machine without the workspace: no NODE_OPTIONS, no tsx, no workspace bins. */
const plainEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: work, npm_config_update_notifier: 'false' }

const DEB_ARCH = process.arch === 'x64' ? 'amd64' : process.arch

interface ReleaseManifest {
  version: string
  artifacts: Array<{ file: string; bytes: number; sha256: string }>
}
let release: ReleaseManifest

const artifact = (pattern: RegExp): string => {
  const found = release.artifacts.find((a) => pattern.test(a.file))
  if (found === undefined) throw new Error(`pnpm release made no ${pattern}`)
  return join(releaseDir, found.file)
}

beforeAll(async () => {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'scripts/release/release.ts', '--out', releaseDir, '--json'],
    { cwd: repo, timeout: 240_000, maxBuffer: 1 << 24 },
  )
  release = JSON.parse(stdout) as ReleaseManifest
}, 300_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

/**
 * Three installed daemons (seeded by address), the second and third with the mesh's transport on a
 * thread of its own, whose code each artifact ships its own way; a record set on the first through
 * memcached: every node must hold it and the third must serve it back.
 */
async function expectFleetReplicates(name: string, command: string[], keyCommand: string[]): Promise<void> {
  const meshKey = join(work, name, 'mesh.key')
  await createMeshKey(meshKey, keyCommand)
  let nodes: Tlsmeshd[] = []
  try {
    nodes = await startMeshedTlsmeshd(3, {
      ...{ meshKeyFile: meshKey, realm: 'www', memcacheTcp: true, command },
      extraArgs: (index) => (index > 0 ? ['--transport-thread'] : []),
    })
    const statuses = await Promise.all(nodes.map((node) => node.status()))
    expect(statuses.map((s) => s.version)).toEqual([release.version, release.version, release.version])
    expect(statuses.map((s) => s.transportThread)).toEqual([false, true, true])
    const stored = await memcachedCommand(
      nodes[0]!.memcachePort!,
      'set greeting 0 300 5\r\nhello\r\n',
      /\r\n$/,
    )
    expect(stored).toBe('STORED\r\n')
    expect(await waitForReplicas(nodes, 1)).toBe(1)
    const read = await memcachedCommand(nodes[2]!.memcachePort!, 'get greeting\r\n', /END\r\n$/)
    expect(read).toBe('VALUE greeting 0 5\r\nhello\r\nEND\r\n')
  } finally {
    await stopAll(nodes)
  }
}

describe('pnpm release', () => {
  it('makes the bundled binaries, every library, a single executable, a .deb and their checksums', () => {
    const files = release.artifacts.map((a) => a.file).sort()
    expect(files).toEqual(
      [
        `tlsmesh-${release.version}.tgz`,
        ...['admin-api', 'memcache', 'mesh', 'node-tls', 'store', 'ticket-keys', 'wire'].map(
          (lib) => `tlsmesh-${lib}-${release.version}.tgz`,
        ),
        `tlsmesh-${release.version}-linux-${process.arch}.tar.gz`,
        `tlsmesh_${release.version}_${DEB_ARCH}.deb`,
      ].sort(),
    )
    const sums = readFileSync(join(releaseDir, 'SHA256SUMS'), 'utf8')
    for (const a of release.artifacts) expect(sums).toContain(`${a.sha256}  ${a.file}\n`)
  })
})

describe('npm install -g of the tlsmesh tarball', () => {
  const prefix = join(work, 'prefix')
  const bin = (name: string) => join(prefix, 'bin', name)

  beforeAll(async () => {
    await run(
      'npm',
      ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', artifact(/^tlsmesh-\d/)],
      {
        env: plainEnv,
        timeout: 120_000,
      },
    )
  }, 150_000)

  it('puts both binaries on the prefix PATH, running compiled JavaScript with no dependency and no tsx', async () => {
    const installed = join(prefix, 'lib/node_modules/tlsmesh')
    expect(existsSync(join(installed, 'node_modules'))).toBe(false)
    const shipped = readdirSync(installed, { recursive: true }).map(String)
    expect(shipped.filter((file) => file.endsWith('.ts'))).toEqual([])
    expect(shipped).toContain('THIRD-PARTY-NOTICES.txt')
    expect(readFileSync(join(installed, 'THIRD-PARTY-NOTICES.txt'), 'utf8')).toContain('libp2p@')
    for (const name of ['tlsmeshd', 'tlsmesh']) {
      const { stdout } = await run(bin(name), ['--version'], { env: plainEnv })
      expect(stdout).toBe(`${name} ${release.version}\n`)
    }
  })

  it('starts a 3-node fleet that replicates', async () => {
    mkdirSync(join(work, 'npm'))
    await expectFleetReplicates('npm', [bin('tlsmeshd')], [bin('tlsmesh')])
  }, 90_000)
})

describe('the single executable', () => {
  const dir = join(work, 'single')
  const bin = (name: string) => join(dir, `tlsmesh-${release.version}-linux-${process.arch}`, 'bin', name)

  beforeAll(async () => {
    mkdirSync(dir)
    await run('tar', ['-xzf', artifact(/linux-.*\.tar\.gz$/), '-C', dir])
  })

  it("runs both commands with no Node.js on PATH, and ships Node.js's license with its own", async () => {
    for (const name of ['tlsmeshd', 'tlsmesh']) {
      const { stdout, stderr } = await run(bin(name), ['--version'], { env: { PATH: '/nonexistent' } })
      expect(stdout).toBe(`${name} ${release.version}\n`)
      expect(stderr).toBe('')
    }
    const licenses = readdirSync(join(bin('tlsmesh'), '../..'))
    expect(licenses).toEqual(expect.arrayContaining(['LICENSE', 'NODEJS-LICENSE', 'THIRD-PARTY-NOTICES.txt']))
  })

  it('starts a 3-node fleet that replicates', async () => {
    mkdirSync(join(work, 'sea'))
    await expectFleetReplicates('sea', [bin('tlsmeshd')], [bin('tlsmesh')])
  }, 90_000)
})

describe('npm install of the library tarballs into a project', () => {
  const project = join(work, 'embedder')

  beforeAll(async () => {
    mkdirSync(project)
    writeFileSync(
      join(project, 'package.json'),
      '{ "name": "embedder", "private": true, "type": "module" }\n',
    )
    const libraries = release.artifacts.filter((a) => /^tlsmesh-[a-z-]+-\d/.test(a.file))
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', ...libraries.map((a) => join(releaseDir, a.file))],
      { cwd: project, env: plainEnv, timeout: 240_000 },
    )
  }, 300_000)

  it('imports every package from plain Node, with the wire codec that keeps every timestamp', async () => {
    const script = join(project, 'check.mjs')
    writeFileSync(
      script,
      `import * as store from '@tlsmesh/store'
import * as nodeTls from '@tlsmesh/node-tls'
import * as mesh from '@tlsmesh/mesh'
import * as memcache from '@tlsmesh/memcache'
import * as ticketKeys from '@tlsmesh/ticket-keys'
import { decodeBatch, encodeBatch, SIGNATURE_BYTES } from '@tlsmesh/wire'
const created = 1_765_000_000_123 // its low 32 bits are above 2^31
const batch = { realm: 'www', signature: new Uint8Array(SIGNATURE_BYTES),
  records: [{ id: new Uint8Array([1]), value: new Uint8Array([2]), created, expires: created + 60_000 }] }
const back = decodeBatch(encodeBatch(batch)).records[0]
const cache = new store.LocalSessionCache({ store: store.createReplicaStore(), origin: 'me' })
console.log(JSON.stringify({
  created: back.created, expires: back.expires,
  exports: [store, nodeTls, mesh, memcache, ticketKeys].map((m) => Object.keys(m).length > 0),
  cache: typeof cache.set,
}))
`,
    )
    const { stdout } = await run(process.execPath, [script], { cwd: project, env: plainEnv })
    expect(JSON.parse(stdout)).toEqual({
      created: 1_765_000_000_123,
      expires: 1_765_000_060_123,
      exports: [true, true, true, true, true],
      cache: 'function',
    })
  })

  it('runs a mesh node with its transport on a thread of its own from the compiled package', async () => {
    // The worker's entry is a file of its own in dist/: a package that left it out, or named it as the
    // sources do, would fail here at start.
    const script = join(project, 'threaded.mjs')
    writeFileSync(
      script,
      `import { createMeshNode, generateMeshKey } from '@tlsmesh/mesh'
const meshKey = generateMeshKey()
const start = async (seeds) => {
  const node = await createMeshNode({ meshKey, realms: ['www'], seeds, transportThread: true })
  await node.start()
  return node
}
const a = await start([])
const b = await start([a.multiaddrs()[0]])
const id = new Uint8Array([1, 2, 3])
a.cache.set('www', id, new Uint8Array([9]), 60_000)
const deadline = Date.now() + 20_000
while (b.cache.get('www', id)?.value?.[0] !== 9) {
  if (Date.now() > deadline) throw new Error('the session did not reach B')
  await new Promise((resolve) => setTimeout(resolve, 50))
}
await Promise.all([a.stop(), b.stop()])
console.log(JSON.stringify({ replicated: true }))
`,
    )
    const { stdout } = await run(process.execPath, [script], { cwd: project, env: plainEnv, timeout: 60_000 })
    expect(JSON.parse(stdout)).toEqual({ replicated: true })
  })

  it('gives TypeScript users declarations: a wrong call is a type error', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      }),
    )
    const good =
      "import { createReplicaStore } from '@tlsmesh/store'\nexport const s = createReplicaStore()\n"
    writeFileSync(join(project, 'use.ts'), good)
    const tsc = join(repo, 'node_modules/.bin/tsc')
    await run(tsc, ['-p', project], { cwd: project })
    writeFileSync(join(project, 'use.ts'), `${good}export const n: number = s\n`)
    const failed = await run(tsc, ['-p', project], { cwd: project }).then(
      () => '',
      (err: { stdout: string }) => err.stdout,
    )
    expect(failed).toMatch(/use\.ts.*TS2322.*ReplicaStore/)
  })
})

const asRoot = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get') && existsSync('/usr/bin/setpriv')

describe.skipIf(!asRoot)('apt install of the .deb', () => {
  beforeAll(async () => {
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', artifact(/\.deb$/)], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 180_000,
    })
  }, 200_000)

  afterAll(async () => {
    await run('apt-get', ['purge', '-y', '-qq', 'tlsmesh'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 120_000,
    })
  }, 150_000)

  it('installs the binaries on PATH, the systemd unit, its configuration and a system user', async () => {
    for (const name of ['tlsmeshd', 'tlsmesh']) {
      const { stdout } = await run(`/usr/bin/${name}`, ['--version'], { env: plainEnv })
      expect(stdout).toBe(`${name} ${release.version}\n`)
    }
    const { stdout: user } = await run('getent', ['passwd', 'tlsmesh'])
    expect(user).toMatch(/^tlsmesh:x:\d+:\d+:.*:\/var\/lib\/tlsmesh:\/usr\/sbin\/nologin$/m)
    const unit = readFileSync('/lib/systemd/system/tlsmeshd.service', 'utf8')
    expect(unit).toContain('ExecStart=/usr/bin/tlsmeshd --config /etc/tlsmesh/tlsmeshd.yaml')
    expect(unit).toContain('ProtectSystem=strict')
    const { stdout: conffiles } = await run('dpkg-query', ['--control-show', 'tlsmesh', 'conffiles'])
    expect(conffiles).toContain('/etc/tlsmesh/tlsmeshd.yaml')
  })

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('ships a unit systemd accepts, hardened', async () => {
    const unit = '/lib/systemd/system/tlsmeshd.service'
    await run('systemd-analyze', ['verify', unit])
    const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', unit])
    const exposure = /Overall exposure level for tlsmeshd.service: ([\d.]+)/.exec(stdout)
    expect(Number(exposure?.[1])).toBeLessThanOrEqual(2)
  })

  it('checks the shipped configuration as the unit would run it', async () => {
    const dir = mkdtempSync(join(work, 'deb-config-'))
    const meshKey = join(dir, 'mesh.key')
    await createMeshKey(meshKey, ['/usr/bin/tlsmesh'])
    const { stdout } = await run(
      '/usr/bin/tlsmeshd',
      ['--check-config', '--config', '/etc/tlsmesh/tlsmeshd.yaml', '--identity', join(dir, 'id.key')],
      { env: { ...plainEnv, TLSMESH_MESH_KEY_FILE: meshKey } },
    )
    expect(stdout).toBe('configuration OK\n')
  })

  it('starts a 3-node fleet as the tlsmesh system user that replicates', async () => {
    const dir = join(work, 'deb')
    mkdirSync(dir)
    chmodSync(work, 0o755)
    await run('chown', ['tlsmesh:tlsmesh', dir])
    const asUser = ['/usr/bin/setpriv', '--reuid=tlsmesh', '--regid=tlsmesh', '--init-groups']
    await expectFleetReplicates('deb', [...asUser, '/usr/bin/tlsmeshd'], [...asUser, '/usr/bin/tlsmesh'])
  }, 90_000)
})
