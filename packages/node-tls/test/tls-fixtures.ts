import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tls from 'node:tls'

export interface Credentials {
  key: Buffer
  cert: Buffer
}

/** A throwaway self-signed P-256 certificate for localhost and 127.0.0.1. */
export function makeCredentials(): Credentials {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-node-tls-'))
  try {
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    const args = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost'
    execFileSync(
      'openssl',
      [
        ...args.split(' '),
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    )
    return { key: readFileSync(key), cert: readFileSync(cert) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A TLS server on 127.0.0.1 that completes handshakes and closes when the client does. */
export async function listen(options: tls.TlsOptions): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {})
    socket.resume()
    socket.on('end', () => socket.end())
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  return { server, port: (server.address() as AddressInfo).port }
}

export async function close(server: tls.Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

export interface Handshake {
  reused: boolean
  protocol: string | null
  /** The client's session (DER), to offer to the next server. */
  session: Buffer | undefined
}

/**
 * One connection: handshakes, waits for the session the server hands out (TLS 1.3 sends it after the
 * handshake), then closes.
 */
export function handshake(port: number, ca: Buffer, options: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ...options })
    const timer = setTimeout(() => socket.destroy(new Error('handshake timed out')), 3000)
    socket.on('session', (s: Buffer) => {
      session = s
    })
    socket.once('secureConnect', () => {
      const reused = socket.isSessionReused()
      const protocol = socket.getProtocol()
      const finish = (): void => {
        socket.end()
        socket.once('close', () => {
          clearTimeout(timer)
          resolve({ reused, protocol, session: session ?? socket.getSession() })
        })
      }
      // TLS 1.2 hands the session over in the handshake; TLS 1.3 in a message right after it.
      if (session !== undefined || protocol !== 'TLSv1.3') finish()
      else socket.once('session', finish)
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
