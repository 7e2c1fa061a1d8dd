// `pnpm release`: installable artifacts of this checkout in release/ (or --out DIR):
//   tlsmesh-VERSION.tgz            both binaries, bundled: `npm install -g` it
//   tlsmesh-LIBRARY-VERSION.tgz    each library (packages/*), compiled with declarations, for embedders
//   tlsmesh-VERSION-linux-ARCH.tar.gz  one executable with Node.js inside (tlsmeshd is a link to it)
//   tlsmesh_VERSION_ARCH.deb       that executable, the systemd unit and a system user: `apt install` it
//   SHA256SUMS
// Progress on stderr; the artifacts on stdout (--json: one JSON object).
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { compileLibraries, npmPack, packLibraries } from './build-libraries.ts'
import { bundleApps } from './bundle-apps.ts'
import { buildDebianPackage } from './debian-package.ts'
import { buildSingleExecutable } from './single-executable.ts'
import { releaseVersion, workspacePackages } from './workspace-packages.ts'

const root = resolve(import.meta.dirname, '../..')
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'release') },
    json: { type: 'boolean', default: false },
    /** Only the npm tarballs: no single executable and no .deb (they take most of the time). */
    'npm-only': { type: 'boolean', default: false },
  },
})
const outDir = resolve(values.out)
const stageDir = join(outDir, 'stage')
const step = (text: string) => process.stderr.write(`[release] ${text}\n`)

const version = releaseVersion(root)
rmSync(outDir, { recursive: true, force: true })
mkdirSync(stageDir, { recursive: true })
const libraries = workspacePackages(root, 'packages')

step(`compiling ${libraries.length} libraries (tsc)`)
compileLibraries(root, libraries)
step('packing the libraries')
const artifacts = await packLibraries(root, libraries, version, stageDir, outDir)
step('bundling tlsmeshd and tlsmesh (esbuild)')
const appStage = join(stageDir, 'tlsmesh')
await bundleApps(root, appStage, version)
artifacts.unshift(npmPack(appStage, outDir))
if (!values['npm-only']) {
  step('building the single executable (node --experimental-sea-config, postject)')
  const executable = await buildSingleExecutable({ root, appStage, stageDir, outDir, version })
  artifacts.push(executable.tarball)
  step('building the Debian package (dpkg-deb)')
  artifacts.push(buildDebianPackage({ root, executable: executable.dir, stageDir, outDir, version }))
}

const described = artifacts.map((path) => ({
  file: basename(path),
  bytes: statSync(path).size,
  sha256: createHash('sha256').update(readFileSync(path)).digest('hex'),
}))
writeFileSync(join(outDir, 'SHA256SUMS'), described.map((a) => `${a.sha256}  ${a.file}\n`).join(''))
if (values.json) {
  process.stdout.write(`${JSON.stringify({ version, dir: outDir, artifacts: described })}\n`)
} else {
  process.stdout.write(`tlsmesh ${version} in ${outDir}:\n`)
  for (const a of described)
    process.stdout.write(`  ${a.file.padEnd(38)} ${(a.bytes / 1024).toFixed(0).padStart(6)} KiB\n`)
}
