import { createServer, type Server } from 'node:http'
import type { MeshNode } from '@tlsmesh/mesh'
import type { Registry } from 'prom-client'

export interface AdminServerComponents {
  mesh: MeshNode
  registry: Registry
  version: string
}

/**
 * Loopback HTTP for operators and probes: GET /healthz (alive), /status (JSON), /metrics (Prometheus
 * text). Read-only; never returns a session value or a key.
 */
export function createAdminServer(components: AdminServerComponents): Server {
  return createServer((req, res) => {
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
      res.end(body)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, 'text/plain', 'method not allowed\n')
    }
    const path = (req.url ?? '/').split('?')[0]
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n')
      case '/status':
        return send(
          200,
          'application/json',
          `${JSON.stringify({ version: components.version, ...components.mesh.status() }, null, 2)}\n`,
        )
      case '/metrics':
        components.registry.metrics().then(
          (text) => send(200, components.registry.contentType, text),
          (err: Error) => send(500, 'text/plain', `metrics failed: ${err.message}\n`),
        )
        return
      default:
        return send(404, 'text/plain', 'not found: try /healthz, /status or /metrics\n')
    }
  })
}
