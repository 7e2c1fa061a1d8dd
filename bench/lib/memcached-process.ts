import { type ChildProcess, spawn } from 'node:child_process'
import { createConnection } from 'node:net'

export interface MemcachedPlacement {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string
  /** Network namespace to run in (`ip netns exec`). */
  netns?: string
  /** Whether memcached accepts connections yet, asked from where it can be reached. Default: a TCP connect from here. */
  reachable?: () => Promise<boolean>
}

/** A real memcached from Debian (/usr/bin/memcached), for the central-cache baseline. */
export async function startMemcached(port: number, where: MemcachedPlacement = {}): Promise<ChildProcess> {
  const host = where.host ?? '127.0.0.1'
  const args = ['-l', host, '-p', String(port), '-U', '0', '-m', '256', '-u', 'root']
  const child =
    where.netns !== undefined
      ? spawn('ip', ['netns', 'exec', where.netns, 'memcached', ...args], { stdio: 'ignore' })
      : spawn('memcached', args, { stdio: 'ignore' })
  process.once('exit', () => child.kill('SIGKILL'))
  const reachable = where.reachable ?? (() => canConnect(host, port))
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    if (await reachable()) return child
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill('SIGKILL')
  throw new Error(
    `memcached did not start on port ${port} (is the Debian package installed? bash scripts/setup.sh)`,
  )
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection(port, host)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ createServer }) => {
      const server = createServer()
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        const port = typeof address === 'object' && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
      server.once('error', reject)
    }, reject)
  })
}
