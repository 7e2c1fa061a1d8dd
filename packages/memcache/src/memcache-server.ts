import { chmodSync, lstatSync, unlinkSync } from 'node:fs'
import { BlockList, connect, createServer, isIP, type Server, type Socket } from 'node:net'
import { isValidRealm, type Logger, type SessionCache } from '@tlsmesh/store'
import type { Registry } from 'prom-client'
import { CacheOperations, isFlushable } from './cache-operations.ts'
import {
  DEFAULT_ALLOW_FLUSH_ALL,
  DEFAULT_FIRST_COMMAND_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_SOCKET_CONNECTIONS,
  DEFAULT_MAX_TCP_CONNECTIONS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_PORT,
  DEFAULT_REALM,
  DEFAULT_SOCKET_MODE,
  MAX_MAX_CONNECTIONS,
  MAX_MAX_LINE_BYTES,
  MAX_MAX_VALUE_BYTES,
  MIN_MAX_LINE_BYTES,
  SOCKET_OWNER_TIMEOUT_MS,
} from './constants.ts'
import type { EndpointContext } from './endpoint-context.ts'
import { type CacheUsage, EndpointCounters, EndpointStats } from './endpoint-stats.ts'
import {
  InvalidMemcacheOptionError,
  NotLoopbackError,
  ServerStateError,
  SocketPathInUseError,
} from './errors.ts'
import { type ConnectionTimeouts, MemcacheConnection } from './memcache-connection.ts'
import { type ListenerKind, MemcacheMetrics, type MemcacheTotals, type RefusalReason } from './metrics.ts'
import { type TcpConnectionEnds, TcpSocketOwners } from './tcp-socket-owners.ts'

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
  /** Open TCP connections beyond which new ones are closed at once. Default `DEFAULT_MAX_TCP_CONNECTIONS`. */
  maxTcpConnections?: number
  /** The same for the unix socket, counted apart. Default `DEFAULT_MAX_SOCKET_CONNECTIONS`. */
  maxSocketConnections?: number
  /** A connection with no traffic this long is closed; 0 never. Default `DEFAULT_IDLE_TIMEOUT_MS`. */
  idleTimeoutMs?: number
  /**
   * A connection without a whole command this long after it opened is closed; 0 never. Default
   * `DEFAULT_FIRST_COMMAND_TIMEOUT_MS`.
   */
  firstCommandTimeoutMs?: number
  /**
   * Only TCP clients whose socket belongs to one of these uids are served (Linux: found in
   * /proc/net/tcp); others are closed before anything is read. Absent: any local user. The unix
   * socket is guarded by its file mode instead.
   */
  allowUids?: readonly number[]
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
  logger?: Logger
  /** Turns absolute exptimes into TTLs; pass the cache's clock. Default `Date.now`. */
  now?: () => number
  /** Items, bytes and evictions for `stats` (see `replicaCacheUsage`); without it they are left out. */
  cacheUsage?: () => CacheUsage
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
  /** What this endpoint has counted since it was made (the metrics' source). */
  totals(): MemcacheTotals
}

interface ResolvedInit {
  tcp: { host: string; port: number } | undefined
  socketPath: string | undefined
  socketMode: number
  realm: string
  maxValueBytes: number
  maxConnections: Record<ListenerKind, number>
  timeouts: ConnectionTimeouts
  allowUids: ReadonlySet<number> | undefined
  maxLineBytes: number
  allowFlushAll: boolean
  version: string
}

/** A listening server and the connections it holds, counted against its own limit. */
interface Listener {
  readonly kind: ListenerKind
  readonly max: number
  open: number
  server: Server
  address?: MemcacheAddress
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
  readonly #counters = new EndpointCounters()
  readonly #connections = new Set<MemcacheConnection>()
  readonly #stopping = new AbortController()
  #listeners: Listener[] = []
  #owners: TcpSocketOwners | undefined
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
    try {
      const init = resolveInit(this.#init, this.#components.cache)
      if (init.allowUids !== undefined) {
        this.#owners = new TcpSocketOwners()
        await this.#owners.check()
      }
      const ctx = this.#context(init)
      if (init.tcp !== undefined) await this.#listenTcp(ctx, init, init.tcp)
      if (init.socketPath !== undefined) await this.#listenSocket(ctx, init, init.socketPath)
      this.#state = 'started'
      this.#components.logger?.info(
        { addresses: this.addresses(), realm: init.realm, allowUids: init.allowUids?.size ?? 'any' },
        'memcache endpoint listening',
      )
    } catch (err) {
      await this.#closeListeners()
      this.#state = 'stopped'
      throw err
    }
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    this.#stopping.abort()
    const closed = this.#closeListeners()
    for (const connection of this.#connections) connection.destroy()
    await closed
  }

  addresses(): MemcacheAddress[] {
    return this.#listeners.flatMap((listener) => (listener.address ? [listener.address] : []))
  }

  totals(): MemcacheTotals {
    return this.#metrics.totals()
  }

  #context(init: ResolvedInit): EndpointContext {
    const now = this.#components.now ?? Date.now
    const counters = this.#counters
    const stats = new EndpointStats({
      counters,
      settings: {
        maxConnections:
          (init.tcp !== undefined ? init.maxConnections.tcp : 0) +
          (init.socketPath !== undefined ? init.maxConnections.unix : 0),
        idleTimeoutMs: init.timeouts.idleTimeoutMs,
        maxValueBytes: init.maxValueBytes,
        allowFlushAll: init.allowFlushAll,
        socketMode: init.socketMode,
      },
      version: init.version,
      now,
      addresses: () => this.addresses(),
      cacheUsage: this.#components.cacheUsage,
    })
    return {
      ops: new CacheOperations(this.#components.cache, init.realm, now, init.maxValueBytes, counters),
      metrics: this.#metrics,
      counters,
      stats,
      limits: {
        maxValueBytes: init.maxValueBytes,
        maxLineBytes: init.maxLineBytes,
        allowFlushAll: init.allowFlushAll,
        version: init.version,
      },
      logger: this.#components.logger,
    }
  }

  async #listenTcp(
    ctx: EndpointContext,
    init: ResolvedInit,
    tcp: { host: string; port: number },
  ): Promise<void> {
    const listener = this.#createListener('tcp', ctx, init)
    await listen(listener.server, tcp)
    const bound = listener.server.address()
    if (bound === null || typeof bound === 'string') throw new Error('TCP listener has no address')
    listener.address = { transport: 'tcp', host: bound.address, port: bound.port }
    this.#logErrors(listener)
  }

  async #listenSocket(ctx: EndpointContext, init: ResolvedInit, path: string): Promise<void> {
    const listener = this.#createListener('unix', ctx, init)
    // The kernel checks the socket file's mode at connect(): create it with the final mode (umask)
    // rather than chmod after listen, when other users could already queue connections.
    const previousUmask = process.umask(0o777 & ~init.socketMode)
    try {
      await listenOnSocket(listener.server, path)
    } finally {
      process.umask(previousUmask)
    }
    chmodSync(path, init.socketMode)
    listener.address = { transport: 'unix', path }
    this.#logErrors(listener)
  }

  #createListener(kind: ListenerKind, ctx: EndpointContext, init: ResolvedInit): Listener {
    // allowHalfOpen: a client may send its last requests and shut its side; it still gets the replies.
    // pauseOnConnect: nothing is read from a client before it is admitted (limit, owner).
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true })
    const listener: Listener = { kind, max: init.maxConnections[kind], open: 0, server }
    this.#listeners.push(listener)
    server.on('connection', (socket: Socket) => this.#accept(listener, socket, ctx, init))
    return listener
  }

  /**
   * Logs what goes wrong with a listener once it listens. Not before: a failure to bind (address in
   * use) rejects start(), and the daemon reports it once, naming its setting.
   */
  #logErrors(listener: Listener): void {
    listener.server.on('error', (err: NodeJS.ErrnoException) => {
      this.#components.logger?.error({ code: err.code, listener: listener.kind }, 'memcache listener error')
    })
  }

  #accept(listener: Listener, socket: Socket, ctx: EndpointContext, init: ResolvedInit): void {
    const refusal =
      this.#state !== 'started' ? 'stopping' : listener.open >= listener.max ? 'connection-limit' : undefined
    if (refusal !== undefined) {
      this.#refuse(listener.kind, socket, refusal)
      return
    }
    listener.open++
    this.#metrics.connectionOpened(listener.kind)
    socket.once('close', () => {
      listener.open--
      this.#metrics.connectionClosed(listener.kind)
    })
    if (listener.kind === 'tcp' && init.allowUids !== undefined) {
      void this.#admitByOwner(socket, init.allowUids).then((admitted) => {
        if (admitted) this.#serve(socket, ctx, init)
      })
    } else {
      this.#serve(socket, ctx, init)
    }
  }

  /** Whether the client's socket belongs to an allowed user; a refused one is closed and counted. */
  async #admitByOwner(socket: Socket, allowUids: ReadonlySet<number>): Promise<boolean> {
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(SOCKET_OWNER_TIMEOUT_MS)])
    const uid = await this.#owners!.ownerOf(connectionEnds(socket), { signal })
    let refusal: RefusalReason | undefined
    if (this.#state !== 'started') refusal = 'stopping'
    else if (uid === undefined) refusal = 'owner-unknown'
    else if (!allowUids.has(uid)) refusal = 'user-not-allowed'
    if (refusal === undefined) return true
    this.#components.logger?.debug({ uid, reason: refusal }, 'memcache: TCP client refused')
    this.#refuse('tcp', socket, refusal)
    return false
  }

  #serve(socket: Socket, ctx: EndpointContext, init: ResolvedInit): void {
    const connection = new MemcacheConnection(socket, ctx, init.timeouts)
    this.#connections.add(connection)
    this.#counters.currConnections++
    this.#counters.totalConnections++
    socket.once('close', () => {
      this.#connections.delete(connection)
      this.#counters.currConnections--
    })
  }

  #refuse(kind: ListenerKind, socket: Socket, reason: RefusalReason): void {
    this.#metrics.connectionRefused(kind, reason)
    this.#counters.rejectedConnections++
    socket.destroy()
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

function connectionEnds(socket: Socket): TcpConnectionEnds {
  return {
    clientAddress: socket.remoteAddress ?? '',
    clientPort: socket.remotePort ?? 0,
    serverAddress: socket.localAddress ?? '',
    serverPort: socket.localPort ?? 0,
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
    ...resolveConnectionLimits(init, wantsTcp),
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

function resolveConnectionLimits(
  init: MemcacheServerInit,
  wantsTcp: boolean,
): Pick<ResolvedInit, 'maxConnections' | 'timeouts' | 'allowUids'> {
  const timeout = (field: string, value: number): number => integerIn(field, value, 0, 2 ** 31 - 1)
  return {
    maxConnections: {
      tcp: integerIn(
        'maxTcpConnections',
        init.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS,
        1,
        MAX_MAX_CONNECTIONS,
      ),
      unix: integerIn(
        'maxSocketConnections',
        init.maxSocketConnections ?? DEFAULT_MAX_SOCKET_CONNECTIONS,
        1,
        MAX_MAX_CONNECTIONS,
      ),
    },
    timeouts: {
      idleTimeoutMs: timeout('idleTimeoutMs', init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
      firstCommandTimeoutMs: timeout(
        'firstCommandTimeoutMs',
        init.firstCommandTimeoutMs ?? DEFAULT_FIRST_COMMAND_TIMEOUT_MS,
      ),
    },
    allowUids: resolveAllowUids(init.allowUids, wantsTcp),
  }
}

function resolveAllowUids(uids: readonly number[] | undefined, wantsTcp: boolean): Set<number> | undefined {
  if (uids === undefined) return undefined
  if (!wantsTcp) {
    throw new InvalidMemcacheOptionError(
      'allowUids: applies to the TCP listener, and there is none (give host or port)',
    )
  }
  if (uids.length === 0) {
    throw new InvalidMemcacheOptionError(
      'allowUids: an empty list would refuse every client; leave it out to allow any local user',
    )
  }
  // 2^32 - 1 is (uid_t)-1, "no user": never an owner.
  for (const uid of uids) integerIn('allowUids', uid, 0, 2 ** 32 - 2)
  return new Set(uids)
}

function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidMemcacheOptionError(`${field}: must be an integer from ${min} to ${max}, got ${value}`)
  }
  return value
}
