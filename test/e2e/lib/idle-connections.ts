// Idle TCP connections to a port, as a flood that proves nothing: each connects, sends nothing, and
// stays open until the server drops it or the flood is stopped. Every socket is destroyed on stop.
import { connect, type Socket } from 'node:net'

export interface IdleConnections {
  /** Connections made (including those the server reset before 'connect' was seen here). */
  readonly connected: number
  /** Connections that never completed (refused, or the server's accept queue was full). */
  readonly failed: number
  /** Connections the server closed or reset after they were made. */
  readonly droppedByServer: number
  /** Still open. */
  readonly open: number
  /** Milliseconds from connecting to the server dropping it, one per dropped connection. */
  readonly heldMs: readonly number[]
  /** Destroys every socket still open. */
  stop(): void
}

export interface IdleConnectionsInit {
  host: string
  port: number
  count: number
  /** Source addresses, used in turn (e.g. 127.0.0.2, 127.0.0.3 ... on loopback). */
  localAddresses?: string[]
  /** Give up on connecting after this long. */
  connectTimeoutMs?: number
}

/** Opens `count` idle connections at once; resolves when every attempt has connected or failed. */
export async function openIdleConnections(init: IdleConnectionsInit): Promise<IdleConnections> {
  const sockets = new Set<Socket>()
  const heldMs: number[] = []
  let connected = 0
  let failed = 0
  let stopped = false
  const attempts = Array.from(
    { length: init.count },
    (_, i) =>
      new Promise<void>((resolve) => {
        const localAddress = init.localAddresses?.[i % init.localAddresses.length]
        const socket = connect({
          host: init.host,
          port: init.port,
          ...(localAddress !== undefined ? { localAddress } : {}),
        })
        sockets.add(socket)
        let connectedAt: number | undefined
        const timer = setTimeout(() => socket.destroy(), init.connectTimeoutMs ?? 10_000)
        socket.once('connect', () => {
          clearTimeout(timer)
          connectedAt = Date.now()
          connected++
          resolve()
        })
        // Whatever the server sends is ignored; reading keeps the socket from stalling.
        socket.on('data', () => {})
        let resetBeforeConnect = false
        socket.on('error', (err: NodeJS.ErrnoException) => {
          // A server that resets a connection at once can do so before 'connect' is seen here.
          if (connectedAt === undefined && err.code === 'ECONNRESET') resetBeforeConnect = true
        })
        socket.once('close', () => {
          clearTimeout(timer)
          sockets.delete(socket)
          if (resetBeforeConnect) {
            connected++
            heldMs.push(0)
          } else if (connectedAt === undefined) {
            failed++
          } else if (!stopped) {
            heldMs.push(Date.now() - connectedAt)
          }
          resolve()
        })
      }),
  )
  await Promise.all(attempts)
  return {
    get connected() {
      return connected
    },
    get failed() {
      return failed
    },
    get droppedByServer() {
      return heldMs.length
    },
    get open() {
      return sockets.size
    },
    heldMs,
    stop() {
      stopped = true
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
  }
}
