// The `tlsmesh` npm package: both binaries (tlsmeshd, tlsmesh) bundled with everything they import,
// so that it installs with no dependency to fetch and starts without loading a thousand modules.
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as esbuild from 'esbuild'
import type { Manifest } from './workspace-packages.ts'

/**
 * ESM bundles of CommonJS dependencies call `require`, which an ES module lacks; each output file
 * gets one made from its own URL. Code splitting keeps libp2p and pino in chunks that only a
 * running daemon loads, so `--help`, `--version` and the CLI's commands stay fast.
 */
const BANNER = `#!/usr/bin/env node
import { createRequire as __tlsmeshCreateRequire } from 'node:module';
const require = __tlsmeshCreateRequire(import.meta.url);`

/**
 * The mesh's transport thread (`--transport-thread`) loads `./transport-worker.js` beside the module
 * that starts it (packages/mesh/src/thread/worker-entry.ts): an entry of its own, among the chunks.
 */
const WORKER = { in: 'packages/mesh/src/thread/transport-worker.ts', out: 'chunks/transport-worker' }
const WORKER_STARTER = 'packages/mesh/src/thread/worker-entry.ts'

export async function bundleApps(root: string, stage: string, version: string): Promise<void> {
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(stage, { recursive: true })
  const result = await esbuild.build({
    entryPoints: [
      { in: join(root, 'apps/tlsmeshd/src/main.ts'), out: 'tlsmeshd' },
      { in: join(root, 'apps/tlsmesh/src/main.ts'), out: 'tlsmesh' },
      { in: join(root, WORKER.in), out: WORKER.out },
    ],
    outdir: join(stage, 'dist'),
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    sourcemap: 'linked',
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'warning',
  })
  for (const bin of ['tlsmeshd', 'tlsmesh']) chmodSync(join(stage, 'dist', `${bin}.js`), 0o755)
  checkWorkerBeside(result.metafile, join(stage, 'dist'))
  writeFileSync(join(stage, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices(root, result.metafile))
  cpSync(join(root, 'LICENSE'), join(stage, 'LICENSE'))
  cpSync(join(root, 'deploy'), join(stage, 'deploy'), { recursive: true })
  cpSync(join(root, 'scripts/release/tlsmesh-package.md'), join(stage, 'README.md'))
  const manifest: Manifest = {
    name: 'tlsmesh',
    version,
    description: 'TLS session resumption across a fleet: tlsmeshd (the node) and tlsmesh (its CLI)',
    license: 'Apache-2.0',
    type: 'module',
    bin: { tlsmeshd: 'dist/tlsmeshd.js', tlsmesh: 'dist/tlsmesh.js' },
    files: ['dist', 'deploy', 'THIRD-PARTY-NOTICES.txt'],
    engines: { node: '>=20' },
  }
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
}

/** Fails the build if the chunk that starts the transport thread is not where the worker's entry is. */
function checkWorkerBeside(metafile: esbuild.Metafile, outdir: string): void {
  const outputs = Object.entries(metafile.outputs).filter(([file]) => file.endsWith('.js'))
  const starter = outputs.find(([, output]) => Object.keys(output.inputs).includes(WORKER_STARTER))
  const worker = outputs.find(([, output]) => output.entryPoint === WORKER.in)
  if (starter === undefined || worker === undefined || dirname(starter[0]) !== dirname(worker[0])) {
    throw new Error(
      `release: ${WORKER_STARTER} was bundled into ${starter?.[0] ?? 'no output'}, but the worker it loads into ${worker?.[0] ?? 'no output'} (under ${outdir})`,
    )
  }
}

/**
 * The license of every npm package compiled into the bundle (their licenses ask that the notice
 * travel with the code), taken from the bundler's own list of inputs, so none can be missed.
 */
export function thirdPartyNotices(root: string, metafile: esbuild.Metafile): string {
  const packageDirs = new Set<string>()
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
    if (match !== null) packageDirs.add(join(root, match[1]!))
  }
  const sections = [...packageDirs]
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest,
    }))
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name))
    .map(({ dir, manifest }) => {
      const file = readdirSync(dir).find((name) => /^(licen[cs]e|copying)/i.test(name))
      const text = file !== undefined ? readFileSync(join(dir, file), 'utf8').trim() : '(no license file)'
      return `${manifest.name}@${manifest.version} (${manifest.license ?? 'license not stated'})\n\n${text}\n`
    })
  const heading = 'tlsmesh bundles these npm packages; each is under its own license, given here.\n'
  return [heading, ...sections].join(`\n${'-'.repeat(78)}\n\n`)
}
