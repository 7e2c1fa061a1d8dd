import type { Socket } from 'node:net'
import { BinaryProtocolSession, REQUEST_MAGIC } from './binary-protocol.ts'
import { ByteQueue } from './byte-queue.ts'
import { CLOSE_GRACE_MS, MAX_PENDING_OUTPUT_BYTES } from './constants.ts'
import {
  type ConnectionOutput,
  classifyFailure,
  type EndpointContext,
  type ProtocolSession,
} from './endpoint-context.ts'
import { TextProtocolSession } from './text-protocol.ts'

/**
 * One client connection: picks the protocol from the first byte (0x80 is the binary request
 * magic, as memcached decides), feeds it whole requests and applies backpressure both ways. A
 * client that does not read its replies stops being read (its replies stay bounded); one that
 * sends slowly only holds its own buffer, bounded by the protocol's line and value limits.
 */
export interface ConnectionTimeouts {
  /** No traffic either way this long closes the connection; 0 never. */
  idleTimeoutMs: number
  /** No whole command this long after the connection opened closes it; 0 never. */
  firstCommandTimeoutMs: number
}

export class MemcacheConnection implements ConnectionOutput {
  readonly #socket: Socket
  readonly #ctx: EndpointContext
  readonly #queue = new ByteQueue()
  #session: ProtocolSession | undefined
  #closed = false
  #peerEnded = false
  #waitingForDrain = false
  #firstCommandTimer: NodeJS.Timeout | undefined

  /** `socket` was accepted paused (pauseOnConnect): reading starts here, once it is admitted. */
  constructor(socket: Socket, ctx: EndpointContext, timeouts: ConnectionTimeouts) {
    this.#socket = socket
    this.#ctx = ctx
    socket.setNoDelay(true)
    if (timeouts.idleTimeoutMs > 0) {
      socket.setTimeout(timeouts.idleTimeoutMs, () => {
        ctx.metrics.error('idle-timeout')
        socket.destroy()
      })
    }
    if (timeouts.firstCommandTimeoutMs > 0) {
      // From the connection, not from its last byte: trickling half a command does not hold the slot.
      this.#firstCommandTimer = setTimeout(() => {
        ctx.metrics.error('first-command-timeout')
        socket.destroy()
      }, timeouts.firstCommandTimeoutMs).unref()
      socket.once('close', () => this.#firstCommandSeen())
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('end', () => {
      this.#peerEnded = true
      if (!this.#waitingForDrain) this.#endIfDone()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      ctx.metrics.error('socket-error')
      ctx.logger?.debug({ code: err.code }, 'memcache: connection error')
    })
    socket.resume()
  }

  get closed(): boolean {
    return this.#closed
  }

  get congested(): boolean {
    return this.#socket.writableLength > MAX_PENDING_OUTPUT_BYTES
  }

  write(chunk: Uint8Array): void {
    if (this.#closed) return
    this.#ctx.counters.bytesWritten += chunk.byteLength
    this.#socket.write(chunk)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#queue.clear()
    this.#socket.end()
    // A peer that never reads our last reply would keep the socket (and its slot) until the idle
    // timeout, which may be off.
    const timer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref()
    this.#socket.once('close', () => clearTimeout(timer))
  }

  /** Server shutdown: no grace, the replies in flight are lost. */
  destroy(): void {
    this.#closed = true
    this.#queue.clear()
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#ctx.counters.bytesRead += chunk.length
    this.#queue.push(chunk)
    if (!this.#waitingForDrain) this.#pump()
  }

  #pump(): void {
    if (this.#session === undefined) {
      if (this.#queue.length === 0) return
      this.#session =
        this.#queue.at(0) === REQUEST_MAGIC
          ? new BinaryProtocolSession(this.#ctx, this)
          : new TextProtocolSession(this.#ctx, this)
    }
    const socket = this.#socket
    let stalled = false
    socket.cork()
    try {
      // A session consumes bytes only once a whole command line (text) or header (binary) is in.
      const queued = this.#queue.length
      this.#session.process(this.#queue)
      if (this.#queue.length < queued) this.#firstCommandSeen()
      // Decided before uncork: uncork may hand most of the replies to the kernel at once, and a
      // session that stopped with requests left must be resumed all the same.
      stalled = this.congested
    } catch (err) {
      // Only a bug of ours gets here (the sessions catch the cache's errors): drop this client,
      // keep serving the others.
      this.#ctx.metrics.error(classifyFailure(err, this.#ctx.logger).reason)
      this.destroy()
    } finally {
      socket.uncork()
    }
    if (this.#closed) return
    if (stalled) {
      this.#waitingForDrain = true
      socket.pause()
      const resume = (): void => {
        this.#waitingForDrain = false
        socket.resume()
        this.#pump()
      }
      // Over the high-water mark, a write returned false, so 'drain' will come once all is flushed.
      if (socket.writableNeedDrain) socket.once('drain', resume)
      else setImmediate(resume)
      return
    }
    this.#endIfDone()
  }

  #firstCommandSeen(): void {
    clearTimeout(this.#firstCommandTimer)
    this.#firstCommandTimer = undefined
  }

  /** The peer half-closed: answer what it sent, then close our side (an incomplete request is dropped). */
  #endIfDone(): void {
    if (this.#peerEnded && !this.#closed) this.close()
  }
}
