import { chmodSync, lstatSync, unlinkSync } from 'node:fs'
import { BlockList, connect, createServer, isIP, type Server, type Socket } from 'node:net'
import { isValidRealm, type SessionCache } from '@tlsmesh/store'
import type { Registry } from 'prom-client'
import { CacheOperations, isFlushable } from './cache-operations.ts'
import {
  DEFAULT_ALLOW_FLUSH_ALL,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_PORT,
  DEFAULT_REALM,
  DEFAULT_SOCKET_MODE,
  MAX_MAX_LINE_BYTES,
  MAX_MAX_VALUE_BYTES,
  MIN_MAX_LINE_BYTES,
} from './constants.ts'
import type { EndpointContext, MemcacheLogger } from './endpoint-context.ts'
import {
  InvalidMemcacheOptionError,
  NotLoopbackError,
  ServerStateError,
  SocketPathInUseError,
} from './errors.ts'
import { MemcacheConnection } from './memcache-connection.ts'
import { MemcacheMetrics } from './metrics.ts'

export interface MemcacheServerInit {
  /**
   * A loopback address or `localhost`; anything else is refused at start. A TCP listener is
   * opened when `host` or `port` is given, or when `socketPath` is not. Default `DEFAULT_HOST`.
   */
  host?: string
  /** Default `DEFAULT_PORT`; 0 picks a free port (see `addresses()`). */
  port?: number
  /** A unix socket to listen on as well (or instead): the recommended form, see README. */
  socketPath?: string
  /** Permissions of `socketPath`. Default `DEFAULT_SOCKET_MODE` (0o660). */
  socketMode?: number
  /** The realm whose records this listener serves. Default `DEFAULT_REALM`. */
  realm?: string
  /** Largest value a client may store. Default `DEFAULT_MAX_VALUE_BYTES`. */
  maxValueBytes?: number
  /** Open connections beyond which new ones are closed at once. Default `DEFAULT_MAX_CONNECTIONS`. */
  maxConnections?: number
  /** A connection with no traffic this long is closed; 0 never. Default `DEFAULT_IDLE_TIMEOUT_MS`. */
  idleTimeoutMs?: number
  /** Longest text command line. Default `DEFAULT_MAX_LINE_BYTES`. */
  maxLineBytes?: number
  /** Honour `flush_all` (it drops the realm fleet-wide). Default false. */
  allowFlushAll?: boolean
  /** What `version` answers: one token, printable ASCII. */
  version: string
}

export interface MemcacheServerComponents {
  cache: SessionCache
  registry?: Registry
  logger?: MemcacheLogger
  /** Turns absolute exptimes into TTLs; pass the cache's clock. Default `Date.now`. */
  now?: () => number
}

export type MemcacheAddress =
  | { transport: 'tcp'; host: string; port: number }
  | { transport: 'unix'; path: string }

export interface MemcacheServer {
  start(): Promise<void>
  /** Stops accepting and closes every client connection. */
  stop(): Promise<void>
  /** Where the server listens while started (port 0 resolved); empty before start and after stop. */
  addresses(): MemcacheAddress[]
}

interface ResolvedInit {
  tcp: { host: string; port: number } | undefined
  socketPath: string | undefined
  socketMode: number
  realm: string
  maxValueBytes: number
  maxConnections: number
  idleTimeoutMs: number
  maxLineBytes: number
  allowFlushAll: boolean
  version: string
}

export function createMemcacheServer(
  init: MemcacheServerInit,
  components: MemcacheServerComponents,
): MemcacheServer {
  return new MemcacheEndpoint(init, components)
}

class MemcacheEndpoint implements MemcacheServer {
  readonly #init: MemcacheServerInit
  readonly #components: MemcacheServerComponents
  readonly #metrics: MemcacheMetrics
  readonly #connections = new Set<MemcacheConnection>()
  #listeners: Array<{ server: Server; address: MemcacheAddress }> = []
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new'

  constructor(init: MemcacheServerInit, components: MemcacheServerComponents) {
    this.#init = init
    this.#components = components
    this.#metrics = new MemcacheMetrics(components.registry)
  }

  async start(): Promise<void> {
    if (this.#state !== 'new')
      throw new ServerStateError(`memcache endpoint cannot start: it is ${this.#state}`)
    this.#state = 'starting'
    const init = resolveInit(this.#init, this.#components.cache)
    const ctx: EndpointContext = {
      ops: new CacheOperations(
        this.#components.cache,
        init.realm,
        this.#components.now ?? Date.now,
        init.maxValueBytes,
      ),
      metrics: this.#metrics,
      limits: {
        maxValueBytes: init.maxValueBytes,
        maxLineBytes: init.maxLineBytes,
        allowFlushAll: init.allowFlushAll,
        version: init.version,
      },
      logger: this.#components.logger,
    }
    try {
      if (init.tcp !== undefined) {
        const server = this.#createServer(ctx, init)
        await listen(server, { host: init.tcp.host, port: init.tcp.port })
        const bound = server.address()
        if (bound === null || typeof bound === 'string') throw new Error('TCP listener has no address')
        this.#listeners.push({ server, address: { transport: 'tcp', host: bound.address, port: bound.port } })
      }
      if (init.socketPath !== undefined) {
        const server = this.#createServer(ctx, init)
        // The kernel checks the socket file's mode at connect(): create it with the final mode (umask)
        // rather than chmod after listen, when other users could already queue connections.
        const previousUmask = process.umask(0o777 & ~init.socketMode)
        try {
          await listenOnSocket(server, init.socketPath)
        } finally {
          process.umask(previousUmask)
        }
        chmodSync(init.socketPath, init.socketMode)
        this.#listeners.push({ server, address: { transport: 'unix', path: init.socketPath } })
      }
    } catch (err) {
      await this.#closeListeners()
      this.#state = 'stopped'
      throw err
    }
    this.#state = 'started'
    this.#components.logger?.info(
      { addresses: this.addresses(), realm: init.realm },
      'memcache endpoint listening',
    )
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    const closed = this.#closeListeners()
    for (const connection of this.#connections) connection.destroy()
    await closed
  }

  addresses(): MemcacheAddress[] {
    return this.#listeners.map((listener) => listener.address)
  }

  #createServer(ctx: EndpointContext, init: ResolvedInit): Server {
    // allowHalfOpen: a client may send its last requests and shut its side; it still gets the replies.
    const server = createServer({ allowHalfOpen: true, noDelay: true })
    server.on('connection', (socket: Socket) => {
      if (this.#connections.size >= init.maxConnections || this.#state !== 'started') {
        this.#metrics.connectionRefused()
        socket.destroy()
        return
      }
      const connection = new MemcacheConnection(socket, ctx, init.idleTimeoutMs)
      this.#connections.add(connection)
      this.#metrics.connectionOpened()
      socket.once('close', () => {
        this.#connections.delete(connection)
        this.#metrics.connectionClosed()
      })
    })
    server.on('error', (err: NodeJS.ErrnoException) => {
      this.#components.logger?.error({ code: err.code }, 'memcache listener error')
    })
    return server
  }

  async #closeListeners(): Promise<void> {
    const listeners = this.#listeners
    this.#listeners = []
    await Promise.all(
      listeners.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve()
            server.close(() => resolve())
          }),
      ),
    )
  }
}

function listen(server: Server, options: { host?: string; port?: number; path?: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening)
      reject(err)
    }
    const onListening = (): void => {
      server.off('error', onError)
      resolve()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(options)
  })
}

/** A socket file left by a crashed daemon is replaced; a live one, or any other file, is not. */
async function listenOnSocket(server: Server, path: string): Promise<void> {
  try {
    await listen(server, { path })
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
  }
  let isSocket = false
  try {
    isSocket = lstatSync(path).isSocket()
  } catch {
    // Gone in the meantime: try again below.
    isSocket = true
  }
  if (!isSocket)
    throw new SocketPathInUseError(`socketPath: ${path} exists and is not a socket; not replacing it`)
  if (await isAlive(path)) throw new SocketPathInUseError(`socketPath: ${path} is in use by a running server`)
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await listen(server, { path })
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path })
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6')

/** 127.0.0.0/8, ::1 (and 127/8 mapped into IPv6), or the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true
  const family = isIP(host)
  if (family === 4) return LOOPBACK.check(host, 'ipv4')
  if (family === 6) return LOOPBACK.check(host, 'ipv6')
  return false
}

function resolveInit(init: MemcacheServerInit, cache: SessionCache): ResolvedInit {
  const wantsTcp = init.host !== undefined || init.port !== undefined || init.socketPath === undefined
  const host = init.host ?? DEFAULT_HOST
  if (wantsTcp && !isLoopbackHost(host)) {
    throw new NotLoopbackError(
      `host: ${JSON.stringify(host)} is not a loopback address; the memcached endpoint only listens on ` +
        '127.0.0.0/8, ::1, localhost or a unix socket (socketPath), since any client that reaches it can ' +
        'read every session',
    )
  }
  const port = init.port ?? DEFAULT_PORT
  integerIn('port', port, 0, 65535)
  if (init.socketPath !== undefined && init.socketPath.length === 0) {
    throw new InvalidMemcacheOptionError('socketPath: must be a non-empty path')
  }
  const socketMode = integerIn('socketMode', init.socketMode ?? DEFAULT_SOCKET_MODE, 0, 0o777)
  const realm = init.realm ?? DEFAULT_REALM
  if (!isValidRealm(realm)) {
    throw new InvalidMemcacheOptionError(
      `realm: ${JSON.stringify(realm)} is not 1-64 characters of A-Z a-z 0-9 . _ -`,
    )
  }
  const allowFlushAll = init.allowFlushAll ?? DEFAULT_ALLOW_FLUSH_ALL
  if (allowFlushAll && !isFlushable(cache)) {
    throw new InvalidMemcacheOptionError(
      'allowFlushAll: this session cache cannot flush a realm (it has no flush())',
    )
  }
  if (typeof init.version !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(init.version)) {
    throw new InvalidMemcacheOptionError('version: must be 1-64 printable ASCII characters without spaces')
  }
  return {
    tcp: wantsTcp ? { host, port } : undefined,
    socketPath: init.socketPath,
    socketMode,
    realm,
    maxValueBytes: integerIn(
      'maxValueBytes',
      init.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      1,
      MAX_MAX_VALUE_BYTES,
    ),
    maxConnections: integerIn('maxConnections', init.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 1, 1_000_000),
    idleTimeoutMs: integerIn('idleTimeoutMs', init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 0, 2 ** 31 - 1),
    maxLineBytes: integerIn(
      'maxLineBytes',
      init.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      MIN_MAX_LINE_BYTES,
      MAX_MAX_LINE_BYTES,
    ),
    allowFlushAll,
    version: init.version,
  }
}

function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidMemcacheOptionError(`${field}: must be an integer from ${min} to ${max}, got ${value}`)
  }
  return value
}
