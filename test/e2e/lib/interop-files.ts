// The files an interop fleet shares: a self-signed certificate (the same on every server, as behind
// a load balancer) and a mesh key made with the CLI, in a temp dir removed afterwards.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeSelfSignedCert } from '../../../scripts/lib/self-signed-cert.ts'
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
  const meshKeyFile = join(dir, 'mesh.key')
  try {
    // Servers that drop root (Apache's www-data, H2O's nobody) still reach sockets made in here;
    // the private key itself stays 0600 (read before they switch user).
    chmodSync(dir, 0o755)
    const { certFile, keyFile } = writeSelfSignedCert(dir)
    await createMeshKey(meshKeyFile)
    return { dir, certFile, keyFile, meshKeyFile, remove }
  } catch (err) {
    remove()
    throw err
  }
}
