// A Debian package (dpkg-deb) of the single executable: both commands on PATH with no Node.js to
// install (Debian 12's own nodejs is 18), the hardened systemd unit, a `tlsmesh` system user and
// group, an example configuration as a conffile.
import { chmodSync, cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCommand as run } from './run-command.ts'

const DESCRIPTION = `TLS session resumption across a fleet of servers
 tlsmeshd gives each server a mesh node: nodes find each other, and each new
 TLS session (and each ticket key) travels once along a broadcast tree into a
 local replica on every server. Node.js servers use it in process; H2O and
 Apache through its memcached endpoint; nginx and HAProxy through ticket-key
 files. tlsmesh is the operator's CLI (keygen, status, peers, watch).`

// The user exists before the unit first runs, so systemd uses it (DynamicUser=yes takes a static user
// of the configured name when there is one) and the web servers' users can join its group for the
// memcached socket. The service is not started: every node needs the fleet's one mesh key first.
const POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd tlsmesh >/dev/null; then
    adduser --system --group --home /var/lib/tlsmesh --no-create-home --quiet tlsmesh
  fi
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
  if [ ! -e /etc/tlsmesh/mesh.key ]; then
    echo "tlsmesh: put the fleet's mesh key in /etc/tlsmesh/mesh.key (tlsmesh keygen --out FILE on the" >&2
    echo "tlsmesh: first node, then copy it), edit /etc/tlsmesh/tlsmeshd.yaml, then:" >&2
    echo "tlsmesh:   systemctl enable --now tlsmeshd" >&2
  fi
fi
`

const PRERM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl disable --now tlsmeshd >/dev/null 2>&1 || true
fi
`

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
`

export interface DebianPackageInit {
  root: string
  /** The single executable's directory (buildSingleExecutable): bin/, the licenses. */
  executable: string
  stageDir: string
  outDir: string
  version: string
}

export function buildDebianPackage(init: DebianPackageInit): string {
  const tree = join(init.stageDir, 'deb')
  rmSync(tree, { recursive: true, force: true })
  install(join(init.executable, 'bin/tlsmesh'), join(tree, 'usr/bin/tlsmesh'))
  symlinkSync('tlsmesh', join(tree, 'usr/bin/tlsmeshd'))
  install(join(init.root, 'deploy/tlsmeshd.service'), join(tree, 'lib/systemd/system/tlsmeshd.service'))
  install(join(init.root, 'deploy/tlsmeshd.yaml'), join(tree, 'etc/tlsmesh/tlsmeshd.yaml'))
  const doc = join(tree, 'usr/share/doc/tlsmesh')
  install(join(init.root, 'LICENSE'), join(doc, 'copyright'))
  for (const file of ['THIRD-PARTY-NOTICES.txt', 'NODEJS-LICENSE']) {
    install(join(init.executable, file), join(doc, file))
  }
  for (const file of ['prometheus-alerts.yml', 'grafana-dashboard.json']) {
    install(join(init.root, 'deploy', file), join(tree, 'usr/share/tlsmesh', file))
  }
  const control = join(tree, 'DEBIAN')
  mkdirSync(control, { recursive: true })
  writeFileSync(join(control, 'control'), controlFile(init.version, installedSizeKiB(tree)))
  writeFileSync(join(control, 'conffiles'), '/etc/tlsmesh/tlsmeshd.yaml\n')
  for (const [name, text] of Object.entries({ postinst: POSTINST, prerm: PRERM, postrm: POSTRM })) {
    writeFileSync(join(control, name), text)
    chmodSync(join(control, name), 0o755)
  }
  const deb = join(init.outDir, `tlsmesh_${init.version}_${debianArchitecture()}.deb`)
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, deb])
  return deb
}

function controlFile(version: string, installedSize: number): string {
  return [
    'Package: tlsmesh',
    `Version: ${version}`,
    `Architecture: ${debianArchitecture()}`,
    'Maintainer: tlsmesh developers <tlsmesh@users.noreply.github.com>',
    `Installed-Size: ${installedSize}`,
    // What the embedded Node.js binary links against.
    'Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1, adduser',
    'Section: net',
    'Priority: optional',
    'Homepage: https://github.com/tlsmesh/tlsmesh',
    `Description: ${DESCRIPTION}`,
    '',
  ].join('\n')
}

function debianArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64' }
  const name = names[process.arch]
  if (name === undefined) throw new Error(`release: no Debian architecture for ${process.arch}`)
  return name
}

function install(from: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true })
  cpSync(from, to)
}

function installedSizeKiB(tree: string): number {
  const du = run('du', ['-s', '--block-size=1024', tree])
  return Number.parseInt(du.split('\t')[0]!, 10)
}
