import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A layer-4 balancer that sends each new TCP connection to the next backend in turn: the setup in
 * which server-local session caches hit only about 1/N of the time.
 */
export function createRoundRobinBalancer(backends: Array<{ host: string; port: number }>): Server {
  let next = 0
  return createServer((client: Socket) => {
    const backend = backends[next++ % backends.length]!
    const upstream = connect(backend.port, backend.host)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    client.pipe(upstream).pipe(client)
    const close = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close)
    upstream.on('error', close)
    client.on('close', close)
    upstream.on('close', close)
  })
}

// Run as a process: balancer.ts <listenPort> <backendPort>...  Prints "listening <port>".
if (import.meta.url === `file://${process.argv[1]}`) {
  const [listenPort, ...backendPorts] = process.argv.slice(2).map(Number)
  const server = createRoundRobinBalancer(backendPorts.map((port) => ({ host: '127.0.0.1', port })))
  server.listen(listenPort ?? 0, '127.0.0.1', () => {
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    process.send?.({ type: 'ready', port })
  })
  process.on('SIGTERM', () => process.exit(0))
  process.on('disconnect', () => process.exit(0))
}
