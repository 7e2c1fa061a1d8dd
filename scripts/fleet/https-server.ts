// One server of the demo fleet: Node's https with the tlsmesh adapter, and either an embedded mesh
// node (mode "mesh"), a server-local cache (mode "local") or a memcached endpoint (mode "remote": a
// central memcached or a local tlsmeshd). With `tickets`, TLS 1.3 (and TLS 1.2 ticket) resumption
// uses ticket keys from a schedule: shared through the mesh, or per server in mode "local".
// Started by fleet.ts with a JSON config as its only argument; talks to its parent over IPC.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import { createMeshNode, type MeshNode } from '@tlsmesh/mesh'
import {
  attachSessionCache,
  attachTicketKeys,
  createMemcacheSessionClient,
  type RemoteSessionCache,
  sessionResumptionOptions,
  ticketResumptionOptions,
} from '@tlsmesh/node-tls'
import { createReplicaStore, LocalSessionCache, type SessionCache } from '@tlsmesh/store'
import {
  createTicketKeySchedule,
  type TicketKeySchedule,
  ticketKeyContestRule,
  ticketKeyRealm,
} from '@tlsmesh/ticket-keys'

export interface FleetServerConfig {
  /** mesh: embedded mesh node; local: server-local cache; remote: a memcached endpoint (central or tlsmeshd). */
  mode: 'mesh' | 'local' | 'remote'
  /** For mode remote. */
  memcache?: { host?: string; port?: number; socketPath?: string }
  /** Resume with session tickets under scheduled ticket keys (TLS 1.3) instead of session ids. */
  tickets?: boolean
  port: number
  /** Address the HTTPS server (and an embedded mesh node) listens on. Default 127.0.0.1. */
  host?: string
  certFile: string
  keyFile: string
  meshKeyFile?: string
  seeds?: string[]
  realm: string
  sessionIdContext: string
}

const config = JSON.parse(process.argv[2] ?? '{}') as FleetServerConfig
const host = config.host ?? '127.0.0.1'
const realms = config.tickets === true ? [config.realm, ticketKeyRealm(config.realm)] : [config.realm]

// A demo fleet starts all at once: propose soon rather than after the production grace period.
const TICKET_SCHEDULE = { realm: config.realm, joinGraceMs: 500, proposalJitterMs: 300 }

let mesh: MeshNode | undefined
let cache: SessionCache | RemoteSessionCache
if (config.mode === 'remote') {
  cache = createMemcacheSessionClient({ ...config.memcache })
} else if (config.mode === 'mesh') {
  mesh = await createMeshNode({
    meshKey: readFileSync(config.meshKeyFile ?? ''),
    seeds: config.seeds ?? [],
    listen: [`/ip4/${host}/tcp/0`],
    realms,
    // Competing key proposals settle by the schedule's rule (a key under way is never replaced).
    store: { contested: { [ticketKeyRealm(config.realm)]: ticketKeyContestRule(TICKET_SCHEDULE) } },
  })
  await mesh.start()
  cache = mesh.cache
} else {
  cache = new LocalSessionCache({ store: createReplicaStore({ realms }) })
}

let schedule: TicketKeySchedule | undefined
if (config.tickets === true) {
  schedule = createTicketKeySchedule(TICKET_SCHEDULE, { cache: mesh?.cache ?? (cache as SessionCache) })
  await schedule.start()
}

const server = createServer(
  {
    cert: readFileSync(config.certFile),
    key: readFileSync(config.keyFile),
    ...(config.tickets === true
      ? ticketResumptionOptions({ sessionIdContext: config.sessionIdContext })
      : sessionResumptionOptions({ sessionIdContext: config.sessionIdContext })),
  },
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('ok\n')
  },
)
const adapter = attachSessionCache(server, cache, { realm: config.realm })
const tickets = schedule !== undefined ? attachTicketKeys(server, schedule) : undefined

server.listen(config.port, host, () => {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  process.send?.({ type: 'ready', port, multiaddrs: mesh?.multiaddrs() ?? [] })
})

process.on('message', (message: { type: string }) => {
  if (message.type === 'status') {
    process.send?.({
      type: 'status',
      adapter: adapter.stats,
      mesh: mesh?.status() ?? null,
      tickets:
        schedule !== undefined ? { ...schedule.status(), installs: tickets?.stats.installs ?? 0 } : null,
    })
  }
})

let stopping = false
const shutdown = async (): Promise<void> => {
  if (stopping) process.exit(1)
  stopping = true
  server.close()
  server.closeAllConnections()
  tickets?.detach()
  await schedule?.stop()
  await mesh?.stop()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('disconnect', shutdown)
