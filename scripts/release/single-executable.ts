// A single-file executable (Node's single executable applications): this machine's node binary with
// both bundled programs injected, so that a server runs tlsmesh without installing Node.js (Debian
// 12's own nodejs is 18; tlsmesh needs 20). One binary: `tlsmeshd` is a link to it.
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import * as esbuild from 'esbuild'
import { runCommand as run } from './run-command.ts'

/** The fuse string Node's binary carries for an injected blob (node/doc/api/single-executable-applications.md). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

export interface SingleExecutableInit {
  root: string
  /** The staged `tlsmesh` npm package (bundleApps): its notices and deploy/ travel along. */
  appStage: string
  stageDir: string
  outDir: string
  version: string
}

export interface SingleExecutable {
  /** The directory holding bin/tlsmesh, bin/tlsmeshd and the licenses. */
  dir: string
  tarball: string
}

export async function buildSingleExecutable(init: SingleExecutableInit): Promise<SingleExecutable> {
  const name = `tlsmesh-${init.version}-linux-${process.arch}`
  const work = join(init.stageDir, 'sea')
  const dir = join(work, name)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(join(dir, 'bin'), { recursive: true })
  const script = join(work, 'tlsmesh.cjs')
  // CommonJS in one file: an injected script can require only Node's own modules, and import nothing.
  const cjs = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true } as const
  const worker = await esbuild.build({
    ...cjs,
    entryPoints: [join(init.root, 'packages/mesh/src/thread/transport-worker.ts')],
    write: false,
    logLevel: 'warning',
  })
  await esbuild.build({
    ...cjs,
    entryPoints: [join(init.root, 'scripts/release/sea-entry.ts')],
    outfile: script,
    plugins: [embedTransportWorker(worker.outputFiles[0]!.text)],
    logLevel: 'warning',
  })
  const blob = join(work, 'tlsmesh.blob')
  const config = join(work, 'sea-config.json')
  const seaConfig = { main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }
  writeFileSync(config, JSON.stringify(seaConfig))
  run(process.execPath, ['--experimental-sea-config', config])
  const binary = join(dir, 'bin/tlsmesh')
  copyFileSync(process.execPath, binary)
  chmodSync(binary, 0o755)
  run(join(init.root, 'node_modules/.bin/postject'), [
    binary,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    SEA_FUSE,
  ])
  symlinkSync('tlsmesh', join(dir, 'bin/tlsmeshd'))
  cpSync(join(init.root, 'LICENSE'), join(dir, 'LICENSE'))
  cpSync(join(init.appStage, 'THIRD-PARTY-NOTICES.txt'), join(dir, 'THIRD-PARTY-NOTICES.txt'))
  cpSync(nodeLicense(), join(dir, 'NODEJS-LICENSE'))
  cpSync(join(init.root, 'deploy'), join(dir, 'deploy'), { recursive: true })
  const tarball = join(init.outDir, `${name}.tar.gz`)
  run('tar', ['-czf', tarball, '-C', work, name])
  return { dir, tarball }
}

/**
 * The mesh's transport thread (`--transport-thread`) cannot load a file from inside the binary: its
 * code goes in as text, run by `new Worker(code, { eval: true })` (packages/mesh/src/thread/worker-entry.ts).
 */
function embedTransportWorker(code: string): esbuild.Plugin {
  return {
    name: 'embed-transport-worker',
    setup(build) {
      build.onLoad({ filter: /[\\/]thread[\\/]worker-entry\.ts$/ }, () => ({
        contents: `export function transportWorkerEntry() { return { code: ${JSON.stringify(code)} } }`,
        loader: 'js',
      }))
    },
  }
}

/** Node's license (it covers the binary and what it bundles): the binary ships with it. */
function nodeLicense(): string {
  const prefix = dirname(dirname(process.execPath))
  const candidates = [
    join(prefix, 'share/doc/nodejs/LICENSE'),
    join(prefix, 'share/doc/node/LICENSE'),
    join(prefix, 'LICENSE'),
  ]
  const found = candidates.find((path) => existsSync(path))
  if (found === undefined) {
    throw new Error(
      `release: Node.js's LICENSE not found (looked in ${candidates.join(', ')}); it must ship with the binary`,
    )
  }
  return found
}
