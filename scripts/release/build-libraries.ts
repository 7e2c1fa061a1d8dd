// The library packages (packages/*) as npm tarballs: JavaScript and declarations compiled by tsc,
// exports pointing at them (publishConfig.exports), workspace versions pinned, the license inside.
import { cpSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import * as esbuild from 'esbuild'
import { runCommand } from './run-command.ts'
import { type Manifest, readManifest, type WorkspacePackage } from './workspace-packages.ts'

/**
 * Dependencies compiled into a package's JavaScript instead of installed beside it, with the reason.
 * protons-runtime: the workspace patches its LongBits (pnpm patchedDependencies) so that a uint64
 * whose low word is in [2^31, 2^32) encodes and decodes right, which half of all millisecond
 * timestamps are; the registry's copy would corrupt them in an embedder's process.
 */
const INLINED: Record<string, string[]> = {
  '@tlsmesh/wire': ['protons-runtime'],
}

/** Compiles every library with tsc into its `dist/` (the workspace itself runs the sources). */
export function compileLibraries(root: string, libraries: WorkspacePackage[]): void {
  for (const { dir } of libraries) {
    rmSync(join(dir, 'dist'), { recursive: true, force: true })
    runCommand(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.build.json')])
  }
}

/** The manifest a release ships: compiled exports, pinned workspace versions, nothing for developers. */
export function releaseManifest(manifest: Manifest, version: string): Manifest {
  const dependencies = Object.fromEntries(
    Object.entries(manifest.dependencies ?? {}).map(([name, range]) => [
      name,
      range.startsWith('workspace:') ? version : range,
    ]),
  )
  const exports = manifest.publishConfig?.exports
  if (exports === undefined) throw new Error(`release: ${manifest.name} has no publishConfig.exports`)
  return {
    name: manifest.name,
    version,
    ...(manifest.description !== undefined ? { description: manifest.description } : {}),
    license: manifest.license ?? 'Apache-2.0',
    type: 'module',
    exports,
    files: manifest.files ?? ['dist'],
    engines: { node: '>=20' },
    dependencies,
  }
}

/** Stages each library (manifest, dist, src, README, LICENSE) under `stageDir` and packs it into `outDir`. */
export async function packLibraries(
  root: string,
  libraries: WorkspacePackage[],
  version: string,
  stageDir: string,
  outDir: string,
): Promise<string[]> {
  const tarballs: string[] = []
  for (const { dir, manifest } of libraries) {
    const stage = join(stageDir, basename(dir))
    rmSync(stage, { recursive: true, force: true })
    mkdirSync(stage, { recursive: true })
    for (const entry of ['dist', 'src', 'README.md'])
      cpSync(join(dir, entry), join(stage, entry), { recursive: true })
    cpSync(join(root, 'LICENSE'), join(stage, 'LICENSE'))
    const released = releaseManifest(manifest, version)
    const inlined = INLINED[manifest.name] ?? []
    if (inlined.length > 0) await inlineDependencies(dir, stage, inlined, released)
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(released, null, 2)}\n`)
    tarballs.push(npmPack(stage, outDir))
  }
  return tarballs
}

/**
 * Replaces a package's compiled index with one bundle that carries `inlined` (the workspace's,
 * patched copies) and imports everything else; their own dependencies join the manifest's. Only
 * single-entry packages need this today, which keeps it simple: the other compiled modules go.
 */
async function inlineDependencies(
  dir: string,
  stage: string,
  inlined: string[],
  released: Manifest,
): Promise<void> {
  if (Object.keys(released.exports ?? {}).length !== 1) {
    throw new Error(`release: inlining dependencies into ${released.name} supports one export only`)
  }
  const dist = join(stage, 'dist')
  for (const file of readdirSync(dist)) if (/\.js(\.map)?$/.test(file)) unlinkSync(join(dist, file))
  const isInlined = (path: string) => inlined.some((name) => path === name || path.startsWith(`${name}/`))
  await esbuild.build({
    entryPoints: [join(dir, 'src/index.ts')],
    outfile: join(dist, 'index.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'external-unless-inlined',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) =>
            isInlined(args.path) ? undefined : { external: true },
          )
        },
      },
    ],
  })
  for (const name of inlined) {
    const own = readManifest(join(dir, 'node_modules', name))
    released.dependencies = { ...own.dependencies, ...released.dependencies }
  }
}

/** `npm pack` of a staged directory into `outDir`; returns the tarball's path. */
export function npmPack(stage: string, outDir: string): string {
  const stdout = runCommand('npm', ['pack', '--silent', '--pack-destination', outDir], { cwd: stage })
  return join(outDir, stdout.trim().split('\n').pop()!)
}
