// The workspace's packages as a release sees them: their manifests, and the one version they share.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Manifest {
  name: string
  version: string
  description?: string
  license?: string
  type?: string
  exports?: Record<string, unknown>
  publishConfig?: { exports?: Record<string, unknown> }
  files?: string[]
  bin?: Record<string, string>
  scripts?: Record<string, string>
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  private?: boolean
  engines?: Record<string, string>
}

export interface WorkspacePackage {
  dir: string
  manifest: Manifest
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest
}

/** `packages/*` (the libraries) or `apps/*`, sorted by directory. */
export function workspacePackages(root: string, group: 'packages' | 'apps'): WorkspacePackage[] {
  return readdirSync(join(root, group))
    .sort()
    .map((name) => join(root, group, name))
    .map((dir) => ({ dir, manifest: readManifest(dir) }))
}

/** Every package is released at one version: a fleet runs one tlsmesh, not a mix of parts. */
export function releaseVersion(root: string): string {
  const all = [...workspacePackages(root, 'packages'), ...workspacePackages(root, 'apps')]
  const versions = new Set(all.map((p) => p.manifest.version))
  if (versions.size !== 1) {
    const list = all.map((p) => `${p.manifest.name}@${p.manifest.version}`).join(', ')
    throw new Error(`release: every package must have the same version, found ${list}`)
  }
  return [...versions][0]!
}
