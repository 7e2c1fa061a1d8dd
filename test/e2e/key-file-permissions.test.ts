// Key files others can read are refused at start, like ssh refuses such a private key: the real
// tlsmeshd process exits 2 with one line on stderr naming the setting. It starts with the owner-only
// files `tlsmesh keygen` writes and the identity it creates itself (0600), and with a systemd
// credential (0440: there group read is the mask of the ACL that lets the service read it).

import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, startProcess, waitUntil } from './lib/managed-process.ts'
import { createMeshKey, startTlsmeshd } from './lib/tlsmeshd-fleet.ts'

const TLSMESHD = fileURLToPath(new URL('../../apps/tlsmeshd/bin/tlsmeshd.js', import.meta.url))
const TOO_OPEN = 'are too open (must not be accessible by group or others; chmod 600)'

/** Runs tlsmeshd to its exit; only for runs that must not get as far as serving. */
function runToExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TLSMESHD, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-format', 'json', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : (err.code as number | null), stdout, stderr }),
    )
  })
}

describe('tlsmeshd refuses key files group or others may access', () => {
  let dir: string
  let meshKey: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-key-modes-'))
    meshKey = join(dir, 'mesh.key')
    await createMeshKey(meshKey)
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('tlsmesh keygen writes the mesh key 0600', () => {
    expect(statSync(meshKey).mode & 0o777).toBe(0o600)
  })

  it('exits 2 on a 0644 mesh key, with one line on stderr naming --mesh-key', async () => {
    const open = join(dir, 'open.key')
    await createMeshKey(open)
    chmodSync(open, 0o644)
    const run = await runToExit(['--mesh-key', open, '--admin', `127.0.0.1:${await freePort()}`])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(`tlsmeshd: --mesh-key ${open}: permissions 0644 ${TOO_OPEN}\n`)
  }, 90_000)

  it('exits 2 on a 0640 identity file, naming the variable it came from', async () => {
    const identity = join(dir, 'open-identity.key')
    const created = await startTlsmeshd({
      name: 'identity-maker',
      meshKeyFile: meshKey,
      realm: 'web',
      extraArgs: ['--identity', identity],
    })
    await created.stop()
    expect(statSync(identity).mode & 0o777).toBe(0o600)
    chmodSync(identity, 0o640)
    const run = await runToExit(['--mesh-key', meshKey, '--admin', `127.0.0.1:${await freePort()}`], {
      TLSMESH_IDENTITY_FILE: identity,
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(`tlsmeshd: TLSMESH_IDENTITY_FILE=${identity}: permissions 0640 ${TOO_OPEN}\n`)
  }, 120_000)

  it("starts with a 0440 mesh key in systemd's credentials directory (an ACL's mask), from the environment", async () => {
    const credentials = join(dir, 'credentials')
    mkdirSync(credentials, { mode: 0o700 })
    const credential = join(credentials, 'mesh.key')
    await createMeshKey(credential)
    chmodSync(credential, 0o440)
    const port = await freePort()
    // As the unit in deploy/ runs it: the key named by TLSMESH_MESH_KEY_FILE=%d/mesh.key.
    const daemon = startProcess(
      'credential',
      process.execPath,
      [TLSMESHD, '--listen', '/ip4/127.0.0.1/tcp/0', '--admin', `127.0.0.1:${port}`],
      { env: { ...process.env, CREDENTIALS_DIRECTORY: credentials, TLSMESH_MESH_KEY_FILE: credential } },
    )
    try {
      const health = await waitUntil(
        'the daemon with a credential to answer /healthz',
        async () => {
          if (daemon.child.exitCode !== null) throw new Error(`exited:\n${daemon.output()}`)
          return fetch(`http://127.0.0.1:${port}/healthz`).then(
            (res) => res.status,
            () => undefined,
          )
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      )
      expect(health).toBe(200)
    } finally {
      await daemon.stop()
    }
  }, 90_000)
})
