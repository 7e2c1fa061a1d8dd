// A Node.js HTTPS server with several worker processes (node:cluster) that resumes TLS sessions made
// anywhere in the fleet: every worker asks the tlsmeshd running beside it, over its memcached unix
// socket, instead of running a mesh node of its own. A lookup the daemon does not answer within
// `lookupTimeoutMs` (a miss, a daemon down or hung) goes on as a full handshake.
//
//   tlsmeshd --mesh-key /etc/tlsmesh/mesh.key --realm www --memcache-socket /run/tlsmesh/memcache.sock ...
//   TLS_CERT=cert.pem TLS_KEY=key.pem PORT=443 node --import tsx examples/node-cluster-https-server.ts
//
// Environment: PORT (443), HOST (0.0.0.0), TLS_CERT, TLS_KEY, TLSMESH_SOCKET
// (/run/tlsmesh/memcache.sock), WORKERS (one per core), SESSION_ID_CONTEXT (www: the same on every
// server of the fleet). Prints one JSON line `{"listening":PORT,"workers":N}` once every worker listens.
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import { availableParallelism } from 'node:os'
import { attachSessionCache, createMemcacheSessionClient, sessionResumptionOptions } from '@tlsmesh/node-tls'

export interface ClusterServerEnv {
  PORT?: string
  HOST?: string
  TLS_CERT?: string
  TLS_KEY?: string
  TLSMESH_SOCKET?: string
  WORKERS?: string
  SESSION_ID_CONTEXT?: string
}

const env = process.env as ClusterServerEnv
const workers = Number(env.WORKERS ?? availableParallelism())

if (cluster.isPrimary) {
  let stopping = false
  let listening = 0
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) console.log(JSON.stringify({ listening: address.port, workers }))
  })
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    console.error(
      JSON.stringify({ msg: 'worker died, starting another', pid: worker.process.pid, code, signal }),
    )
    cluster.fork()
  })
  const stop = (): void => {
    if (stopping) process.exit(1)
    stopping = true
    cluster.disconnect(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  for (let i = 0; i < workers; i++) cluster.fork()
} else {
  const sessions = createMemcacheSessionClient({
    socketPath: env.TLSMESH_SOCKET ?? '/run/tlsmesh/memcache.sock',
  })
  const server = createServer(
    {
      cert: readFileSync(env.TLS_CERT ?? '/etc/ssl/certs/server.pem'),
      key: readFileSync(env.TLS_KEY ?? '/etc/ssl/private/server.key'),
      // One session id context fleet-wide, and tickets off: TLS 1.2 clients resume by session id.
      ...sessionResumptionOptions({ sessionIdContext: env.SESSION_ID_CONTEXT ?? 'www' }),
    },
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`hello from worker ${process.pid}\n`)
    },
  )
  // The realm is the daemon's (--memcache-realm); the deadline is this server's.
  attachSessionCache(server, sessions, { lookupTimeoutMs: 50 })
  server.listen(Number(env.PORT ?? 443), env.HOST ?? '0.0.0.0')
  process.on('disconnect', () => {
    sessions.close()
    server.close()
    server.closeAllConnections()
  })
}
