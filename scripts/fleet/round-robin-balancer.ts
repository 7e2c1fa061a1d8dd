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

/** `port` or `host:port`; the host defaults to 127.0.0.1. */
function endpoint(arg: string): { host: string; port: number } {
  const colon = arg.lastIndexOf(':')
  return colon < 0
    ? { host: '127.0.0.1', port: Number(arg) }
    : { host: arg.slice(0, colon), port: Number(arg.slice(colon + 1)) }
}

// Run as a process: balancer.ts <[host:]listenPort> <[host:]backendPort>...  Sends "ready" with its port.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [listen, ...backends] = process.argv.slice(2).map(endpoint)
  const server = createRoundRobinBalancer(backends)
  server.listen(listen?.port ?? 0, listen?.host ?? '127.0.0.1', () => {
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    process.send?.({ type: 'ready', port })
  })
  process.on('SIGTERM', () => process.exit(0))
  process.on('disconnect', () => process.exit(0))
}
