import { createServer, type Server } from 'node:http'
import { ADMIN_API_VERSION, ADMIN_API_VERSION_HEADER, ADMIN_PATHS } from '@tlsmesh/admin-api'
import type { Logger } from '@tlsmesh/store'
import { Counter, type Registry } from 'prom-client'
import { buildPeers, buildStatus, currentReadiness, type StatusComponents } from './daemon-status.ts'

export interface AdminServerComponents extends StatusComponents {
  registry: Registry
  logger?: Logger
}

const ROUTES = Object.values(ADMIN_PATHS)

/**
 * The Host a request to the loopback listener carries when it comes from this machine: localhost,
 * 127.x.x.x or [::1], with or without a port. A page that rebinds its own name to 127.0.0.1 (DNS
 * rebinding) makes the browser send that name, and reading /status or /peers is then refused.
 */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}|\[::1\])(?::\d{1,5})?$/i

export type AdminRefusal = 'missing-host' | 'foreign-host'

/** Why the request must not be answered, or undefined to answer it. */
export function hostRefusal(hosts: readonly string[] | undefined): AdminRefusal | undefined {
  // Two Host headers are as good as none: which one a proxy or the browser meant is unknowable.
  if (hosts === undefined || hosts.length !== 1 || hosts[0] === '') return 'missing-host'
  return LOOPBACK_HOST.test(hosts[0]!) ? undefined : 'foreign-host'
}

function refusalCounter(registry: Registry): Counter<'reason'> {
  const name = 'tlsmesh_admin_requests_refused_total'
  const existing = registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing as Counter<'reason'>
  const counter = new Counter({
    name,
    help: 'Admin HTTP requests refused before routing, by reason (a Host header that is not loopback: DNS rebinding)',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of ['missing-host', 'foreign-host'] satisfies AdminRefusal[]) counter.inc({ reason }, 0)
  return counter
}

/**
 * Loopback HTTP for operators and probes: GET /healthz (alive), /readyz (joined, caught up, ticket keys held),
 * /status and /peers (JSON, see @tlsmesh/admin-api), /metrics (Prometheus text). Read-only; never
 * returns a session value or a key. A request whose Host is not a loopback name is refused (403),
 * whatever its path: listening on loopback does not keep out a browser tricked by DNS rebinding.
 */
export function createAdminServer(components: AdminServerComponents): Server {
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`
  const refused = refusalCounter(components.registry)
  // Node would answer an HTTP/1.1 request without Host with a bare 400 of its own: refused here
  // instead, with the others, so that it is counted.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const send = (status: number, type: string, body: string): void => {
      if (res.headersSent) return
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        [ADMIN_API_VERSION_HEADER]: ADMIN_API_VERSION,
      })
      res.end(body)
    }
    const fail = (err: Error): void => {
      components.logger?.warn({ err: err.message, path: req.url }, 'admin request failed')
      send(500, 'application/json', json({ error: 'internal', message: err.message }))
    }
    const refusal = hostRefusal(req.headersDistinct.host)
    if (refusal !== undefined) {
      refused.inc({ reason: refusal })
      // The Host is the requester's; at debug only, and bounded.
      components.logger?.debug(
        { reason: refusal, host: req.headers.host?.slice(0, 100) },
        'admin request refused',
      )
      return send(403, 'text/plain', 'forbidden: the Host header must be localhost, 127.0.0.1 or [::1]\n')
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, 'text/plain', 'method not allowed\n')
    }
    const path = (req.url ?? '/').split('?')[0]
    switch (path) {
      case ADMIN_PATHS.healthz:
        return send(200, 'text/plain', 'ok\n')
      case ADMIN_PATHS.readyz: {
        const ready = currentReadiness(components)
        return send(ready.ready ? 200 : 503, 'application/json', json(ready))
      }
      case ADMIN_PATHS.status:
        buildStatus(components).then((status) => send(200, 'application/json', json(status)), fail)
        return
      case ADMIN_PATHS.peers:
        buildPeers(components).then((peers) => send(200, 'application/json', json(peers)), fail)
        return
      case ADMIN_PATHS.metrics:
        components.registry.metrics().then((text) => send(200, components.registry.contentType, text), fail)
        return
      default:
        return send(404, 'text/plain', `not found: try ${ROUTES.join(', ')}\n`)
    }
  })
  // An operator's curl or a probe, never a long-lived client: bound what an idle socket may hold.
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  server.keepAliveTimeout = 5_000
  return server
}
