import { type ChildProcess, spawn } from 'node:child_process'
import { createConnection } from 'node:net'

/** A real memcached from Debian (/usr/bin/memcached) on 127.0.0.1, for the central-cache baseline. */
export async function startMemcached(port: number): Promise<ChildProcess> {
  const child = spawn(
    'memcached',
    ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '256', '-u', 'root'],
    {
      stdio: 'ignore',
    },
  )
  process.once('exit', () => child.kill('SIGKILL'))
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (up) return child
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill('SIGKILL')
  throw new Error(
    `memcached did not start on port ${port} (is the Debian package installed? bash scripts/setup.sh)`,
  )
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
