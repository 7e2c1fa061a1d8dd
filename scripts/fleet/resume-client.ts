import { performance } from 'node:perf_hooks'
import { connect } from 'node:tls'

export interface ChainedClientInit {
  host: string
  port: number
  /** Connections in all, spread over `loops` concurrent clients. */
  connections: number
  loops: number
  tlsVersion: 'TLSv1.2' | 'TLSv1.3'
  servername?: string
  /** Stop early after this long, ms. */
  timeoutMs?: number
}

export interface ChainedClientResult {
  connections: number
  /** Connections that offered a session (every connection but each client's first). */
  offered: number
  resumed: number
  errors: number
  handshakeMs: number[]
  elapsedMs: number
}

/** Where one connection goes. */
export type ConnectTarget = Pick<ChainedClientInit, 'host' | 'port' | 'tlsVersion' | 'servername'>

export interface Connection {
  resumed: boolean
  handshakeMs: number
  session: Buffer | undefined
}

/**
 * One HTTPS request on a new connection that offers `session`; resolves once the response ends.
 * `onSecure` gets the connection's session as soon as the handshake completes.
 */
export function requestOnce(
  init: ConnectTarget,
  session: Buffer | undefined,
  onSecure?: (session: Buffer | undefined) => void,
): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let handshakeMs = 0
    let resumed = false
    let received: Buffer | undefined
    const socket = connect({
      host: init.host,
      port: init.port,
      servername: init.servername ?? 'localhost',
      rejectUnauthorized: false,
      minVersion: init.tlsVersion,
      maxVersion: init.tlsVersion,
      ...(session !== undefined ? { session } : {}),
    })
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')))
    socket.on('session', (s: Buffer) => {
      received = s
    })
    socket.once('secureConnect', () => {
      handshakeMs = performance.now() - started
      resumed = socket.isSessionReused()
      onSecure?.(socket.getSession())
      socket.write('GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n')
    })
    socket.on('data', () => {})
    socket.once('error', reject)
    socket.once('close', () => {
      if (handshakeMs === 0) return reject(new Error('closed before the handshake completed'))
      // A resumed TLS 1.3 connection gets no new ticket from Node, and getSession() then holds none:
      // keep offering the ticket that just worked, as browsers do until it expires.
      const next = received ?? (resumed && session !== undefined ? session : (socket.getSession() ?? session))
      resolve({ resumed, handshakeMs, session: next })
    })
  })
}

/**
 * `loops` clients, each making connections one after another and offering the session of its
 * previous connection, as a browser does. Through a round-robin balancer each connection lands on
 * another server than the one that made the session.
 */
export async function runChainedClients(init: ChainedClientInit): Promise<ChainedClientResult> {
  const result: ChainedClientResult = {
    connections: 0,
    offered: 0,
    resumed: 0,
    errors: 0,
    handshakeMs: [],
    elapsedMs: 0,
  }
  const started = performance.now()
  const deadline = started + (init.timeoutMs ?? 120_000)
  let remaining = init.connections
  const loop = async (): Promise<void> => {
    let session: Buffer | undefined
    while (remaining > 0 && performance.now() < deadline) {
      remaining--
      try {
        const offered = session !== undefined
        const connection = await requestOnce(init, session)
        result.connections++
        if (offered) result.offered++
        if (connection.resumed) result.resumed++
        result.handshakeMs.push(connection.handshakeMs)
        session = connection.session
      } catch {
        result.errors++
        session = undefined
      }
    }
  }
  await Promise.all(Array.from({ length: init.loops }, loop))
  result.elapsedMs = performance.now() - started
  return result
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
