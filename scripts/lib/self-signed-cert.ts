import { execFileSync } from 'node:child_process'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Writes a self-signed P-256 certificate for localhost / 127.0.0.1 (one day) into `dir`, the same
 * for every server of a test fleet, as behind a load balancer. The key file is 0600.
 */
export function writeSelfSignedCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1']
      .concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'])
      .concat(['-keyout', keyFile, '-out', certFile]),
    { stdio: 'ignore' },
  )
  chmodSync(keyFile, 0o600)
  return { certFile, keyFile }
}
