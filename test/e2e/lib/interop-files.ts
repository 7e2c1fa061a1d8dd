// The files an interop fleet shares: a self-signed certificate (the same on every server, as behind
// a load balancer) and a mesh key made with the CLI, in a temp dir removed afterwards.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onInterrupt } from './managed-process.ts'
import { createMeshKey } from './tlsmeshd-fleet.ts'

export interface InteropFiles {
  dir: string
  certFile: string
  keyFile: string
  meshKeyFile: string
  remove(): void
}

export async function createInteropFiles(prefix: string): Promise<InteropFiles> {
  const dir = mkdtempSync(join(tmpdir(), `tlsmesh-${prefix}-`))
  const remove = onInterrupt(() => rmSync(dir, { recursive: true, force: true }))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  const meshKeyFile = join(dir, 'mesh.key')
  try {
    // Servers that drop root (Apache's www-data, H2O's nobody) still reach sockets made in here;
    // the private key itself stays 0600 (read before they switch user).
    chmodSync(dir, 0o755)
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat(
        ['-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile],
      ),
      { stdio: 'ignore' },
    )
    chmodSync(keyFile, 0o600)
    await createMeshKey(meshKeyFile)
  } catch (err) {
    remove()
    throw err
  }
  return { dir, certFile, keyFile, meshKeyFile, remove }
}
