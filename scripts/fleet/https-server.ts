// One server of the demo fleet: Node's https with the tlsmesh adapter, and either an embedded mesh
// node (mode "mesh") or a server-local session cache (mode "local"). Started by fleet.ts with a JSON
// config as its only argument; talks to its parent over the IPC channel.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import { createMeshNode, type MeshNode } from '@tlsmesh/mesh'
import {
  attachSessionCache,
  createMemcacheSessionClient,
  type RemoteSessionCache,
  sessionResumptionOptions,
} from '@tlsmesh/node-tls'
import { createReplicaStore, LocalSessionCache, type SessionCache } from '@tlsmesh/store'

export interface FleetServerConfig {
  /** mesh: embedded mesh node; local: server-local cache; remote: a memcached endpoint (central or tlsmeshd). */
  mode: 'mesh' | 'local' | 'remote'
  /** For mode remote. */
  memcache?: { host?: string; port?: number; socketPath?: string }
  port: number
  certFile: string
  keyFile: string
  meshKeyFile?: string
  seeds?: string[]
  realm: string
  sessionIdContext: string
}

const config = JSON.parse(process.argv[2] ?? '{}') as FleetServerConfig

let mesh: MeshNode | undefined
let cache: SessionCache | RemoteSessionCache
if (config.mode === 'remote') {
  cache = createMemcacheSessionClient({ ...config.memcache })
} else if (config.mode === 'mesh') {
  mesh = await createMeshNode({
    meshKey: readFileSync(config.meshKeyFile ?? ''),
    seeds: config.seeds ?? [],
    realms: [config.realm],
  })
  await mesh.start()
  cache = mesh.cache
} else {
  cache = new LocalSessionCache({ store: createReplicaStore({ realms: [config.realm] }) })
}

const server = createServer(
  {
    cert: readFileSync(config.certFile),
    key: readFileSync(config.keyFile),
    ...sessionResumptionOptions({ sessionIdContext: config.sessionIdContext }),
  },
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('ok\n')
  },
)
const adapter = attachSessionCache(server, cache, { realm: config.realm })

server.listen(config.port, '127.0.0.1', () => {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  process.send?.({ type: 'ready', port, multiaddrs: mesh?.multiaddrs() ?? [] })
})

process.on('message', (message: { type: string }) => {
  if (message.type === 'status') {
    process.send?.({ type: 'status', adapter: adapter.stats, mesh: mesh?.status() ?? null })
  }
})

let stopping = false
const shutdown = async (): Promise<void> => {
  if (stopping) process.exit(1)
  stopping = true
  server.close()
  server.closeAllConnections()
  await mesh?.stop()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('disconnect', shutdown)
