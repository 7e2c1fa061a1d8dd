import { createConnection, type Socket } from 'node:net'
import type { RemoteSessionCache } from './remote-session-cache.ts'

export interface MemcacheSessionClientInit {
  /** The local tlsmeshd's memcached endpoint: a unix socket (recommended) ... */
  socketPath?: string
  /** ... or host and port on loopback. */
  host?: string
  port?: number
  /** Prepended to the hex session id; memcached keys are at most 250 bytes. */
  keyPrefix?: string
  /** Lookups waiting for an answer beyond this are answered "miss" at once: the daemon is behind. */
  maxPending?: number
  /** Reconnect delay after a failure, doubled up to 5 s. */
  reconnectDelayMs?: number
  /** An answer older than this means the daemon is hung (SIGSTOP, say): drop the connection. */
  hungAfterMs?: number
  /** Stores are dropped (and counted) while this many bytes wait to be written. */
  maxBufferedBytes?: number
}

interface PendingGet {
  resolve: (value: Uint8Array | undefined) => void
  sentAt: number
  done: boolean
}

const CRLF = Buffer.from('\r\n')
const END = Buffer.from('END\r\n')
const MAX_RECONNECT_DELAY_MS = 5000

/**
 * A small memcached text-protocol client for TLS sessions, made for the handshake path: one
 * pipelined connection, every lookup bounded by the caller's signal, stores fire-and-forget with
 * `noreply`, and when the daemon is down or hung every lookup is an immediate miss (a full handshake)
 * while it reconnects in the background. A general-purpose client (memjs) can fail to call back
 * under tight timeouts, and stall each handshake for seconds on a frozen memcached.
 */
export class MemcacheSessionClient implements RemoteSessionCache {
  readonly #init: Required<Omit<MemcacheSessionClientInit, 'socketPath' | 'host' | 'port'>> &
    MemcacheSessionClientInit
  #socket: Socket | undefined
  #connected = false
  #closed = false
  #reconnectDelayMs: number
  #reconnectTimer: NodeJS.Timeout | undefined
  /** Writes wait for the end of this turn (`#write`). */
  #corked = false
  readonly #pending: PendingGet[] = []
  #buffer: Buffer = Buffer.alloc(0)
  /** Counters for the caller's metrics. */
  readonly stats = {
    gets: 0,
    hits: 0,
    misses: 0,
    timeouts: 0,
    unavailable: 0,
    stores: 0,
    dropped: 0,
    reconnects: 0,
  }

  constructor(init: MemcacheSessionClientInit) {
    if (init.socketPath === undefined && init.port === undefined) {
      throw new RangeError('memcache client: socketPath or port is required')
    }
    this.#init = {
      keyPrefix: 'tls:',
      maxPending: 256,
      reconnectDelayMs: 100,
      hungAfterMs: 1000,
      maxBufferedBytes: 4 * 1024 * 1024,
      ...init,
    }
    this.#reconnectDelayMs = this.#init.reconnectDelayMs
    this.#connect()
  }

  fetch(id: Uint8Array, options: { signal: AbortSignal }): Promise<Uint8Array | undefined> {
    this.stats.gets++
    this.#checkHung()
    if (!this.#connected || this.#socket === undefined || this.#pending.length >= this.#init.maxPending) {
      this.stats.unavailable++
      return Promise.resolve(undefined)
    }
    if (options.signal.aborted) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const entry: PendingGet = {
        sentAt: Date.now(),
        done: false,
        resolve: (value) => {
          if (entry.done) return
          entry.done = true
          options.signal.removeEventListener('abort', onAbort)
          if (value === undefined) this.stats.misses++
          else this.stats.hits++
          resolve(value)
        },
      }
      // The answer may still come later; it is then read and dropped, keeping the stream in step.
      const onAbort = (): void => {
        if (entry.done) return
        this.stats.timeouts++
        entry.done = true
        resolve(undefined)
      }
      options.signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.push(entry)
      this.#write(`get ${this.#key(id)}\r\n`)
    })
  }

  store(id: Uint8Array, value: Uint8Array, ttlMs: number): void {
    if (!this.#connected || this.#socket === undefined) return
    this.#checkHung()
    // A daemon that stopped reading (frozen, overloaded): drop rather than buffer without bound.
    if (this.#socket === undefined || this.#socket.writableLength > this.#init.maxBufferedBytes) {
      this.stats.dropped++
      return
    }
    this.stats.stores++
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000))
    this.#write(`set ${this.#key(id)} 0 ${seconds} ${value.byteLength} noreply\r\n`)
    this.#write(value)
    this.#write(CRLF)
  }

  /**
   * Requests made in one turn (a set is three writes; a busy server makes several handshakes a turn)
   * leave in one system call, when the turn's synchronous work is done.
   */
  #write(chunk: string | Uint8Array): void {
    const socket = this.#socket!
    if (!this.#corked) {
      this.#corked = true
      socket.cork()
      process.nextTick(() => {
        this.#corked = false
        socket.uncork()
      })
    }
    socket.write(chunk)
  }

  /** An answer overdue by `hungAfterMs` means the daemon is hung: drop the connection and reconnect. */
  #checkHung(): void {
    const oldest = this.#pending[0]
    if (oldest !== undefined && Date.now() - oldest.sentAt > this.#init.hungAfterMs) this.#socket?.destroy()
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#reconnectTimer)
    this.#socket?.destroy()
    this.#failPending()
  }

  #key(id: Uint8Array): string {
    return `${this.#init.keyPrefix}${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')}`
  }

  #connect(): void {
    if (this.#closed) return
    const socket =
      this.#init.socketPath !== undefined
        ? createConnection(this.#init.socketPath)
        : createConnection(this.#init.port!, this.#init.host ?? '127.0.0.1')
    this.#socket = socket
    socket.setNoDelay(true)
    socket.on('connect', () => {
      this.#connected = true
      this.#reconnectDelayMs = this.#init.reconnectDelayMs
    })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#connected = false
      this.#socket = undefined
      this.#buffer = Buffer.alloc(0)
      this.#failPending()
      if (this.#closed) return
      this.stats.reconnects++
      this.#reconnectTimer = setTimeout(() => this.#connect(), this.#reconnectDelayMs)
      this.#reconnectTimer.unref()
      this.#reconnectDelayMs = Math.min(this.#reconnectDelayMs * 2, MAX_RECONNECT_DELAY_MS)
    })
    socket.unref()
  }

  #failPending(): void {
    for (const entry of this.#pending.splice(0)) entry.resolve(undefined)
  }

  /** Parses `VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n`, `END\r\n` or an error line, in order. */
  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length > 0) {
      const lineEnd = this.#buffer.indexOf(CRLF)
      if (lineEnd < 0) return
      const line = this.#buffer.subarray(0, lineEnd).toString('latin1')
      if (line.startsWith('VALUE ')) {
        const bytes = Number(line.split(' ')[3])
        const dataStart = lineEnd + 2
        const need = dataStart + bytes + 2 + END.length
        if (!Number.isInteger(bytes) || bytes < 0) {
          this.#protocolError()
          return
        }
        if (this.#buffer.length < need) return
        if (!this.#buffer.subarray(dataStart + bytes + 2, need).equals(END)) {
          this.#protocolError()
          return
        }
        const value = Buffer.from(this.#buffer.subarray(dataStart, dataStart + bytes))
        this.#buffer = this.#buffer.subarray(need)
        this.#pending.shift()?.resolve(value)
      } else {
        // END (a miss) or ERROR / CLIENT_ERROR / SERVER_ERROR: a miss either way.
        this.#buffer = this.#buffer.subarray(lineEnd + 2)
        this.#pending.shift()?.resolve(undefined)
      }
    }
  }

  #protocolError(): void {
    this.#socket?.destroy()
  }
}

export function createMemcacheSessionClient(init: MemcacheSessionClientInit): MemcacheSessionClient {
  return new MemcacheSessionClient(init)
}
