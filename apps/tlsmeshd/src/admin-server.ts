import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { buildPeers, buildStatus, currentReadiness, type StatusComponents } from './daemon-status.ts'

export interface AdminServerComponents extends StatusComponents {
  registry: Registry
  logger?: Logger
}

const ROUTES = ['/healthz', '/readyz', '/status', '/peers', '/metrics'] as const

/**
 * Loopback HTTP for operators and probes: GET /healthz (alive), /readyz (joined, caught up, ticket keys held),
 * /status and /peers (JSON, see admin-schema.ts), /metrics (Prometheus text). Read-only; never
 * returns a session value or a key.
 */
export function createAdminServer(components: AdminServerComponents): Server {
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`
  const server = createServer((req, res) => {
    const send = (status: number, type: string, body: string): void => {
      if (res.headersSent) return
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
      res.end(body)
    }
    const fail = (err: Error): void => {
      components.logger?.warn({ err: err.message, path: req.url }, 'admin request failed')
      send(500, 'application/json', json({ error: 'internal', message: err.message }))
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, 'text/plain', 'method not allowed\n')
    }
    const path = (req.url ?? '/').split('?')[0]
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n')
      case '/readyz': {
        const ready = currentReadiness(components)
        return send(ready.ready ? 200 : 503, 'application/json', json(ready))
      }
      case '/status':
        buildStatus(components).then((status) => send(200, 'application/json', json(status)), fail)
        return
      case '/peers':
        buildPeers(components).then((peers) => send(200, 'application/json', json(peers)), fail)
        return
      case '/metrics':
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
