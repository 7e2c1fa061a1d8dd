import type { Logger } from '@tlsmesh/store'
import type { ByteQueue } from './byte-queue.ts'
import type { CacheOperations } from './cache-operations.ts'
import type { EndpointCounters, EndpointStats } from './endpoint-stats.ts'
import type { ErrorReason, MemcacheMetrics } from './metrics.ts'

export interface EndpointLimits {
  readonly maxValueBytes: number
  readonly maxLineBytes: number
  readonly allowFlushAll: boolean
  readonly version: string
}

/** What every connection of one server shares. */
export interface EndpointContext {
  readonly ops: CacheOperations
  readonly metrics: MemcacheMetrics
  /** This server's own counters (the ops bump most of them), and the `stats` lists built on them. */
  readonly counters: EndpointCounters
  readonly stats: EndpointStats
  readonly limits: EndpointLimits
  readonly logger: Logger | undefined
}

/** A connection as a protocol session sees it. */
export interface ConnectionOutput {
  write(chunk: Uint8Array): void
  /** Ends the connection once the replies already written are flushed; no more input is read. */
  close(): void
  readonly closed: boolean
  /** Too many replies are waiting for the client to read them: stop until they drain. */
  readonly congested: boolean
}

/** One protocol's parser and dispatcher for one connection. */
export interface ProtocolSession {
  /** Consumes whole requests from the queue until it runs dry, the output congests or the session closes. */
  process(queue: ByteQueue): void
}

export interface Failure {
  reason: ErrorReason
  /** For `SERVER_ERROR <message>`; names no key or value. */
  message: string
  /** Binary status. */
  status: number
}

const CACHE_REFUSALS = new Set([
  'InvalidRealmError',
  'UnknownRealmError',
  'InvalidIdError',
  'TtlTooLongError',
])

/**
 * What an error thrown by the cache (or by us) becomes, decided in one place for both protocols.
 * The store's typed refusals are told apart by `.name`; anything else is our bug: the client gets
 * an internal-error reply, the error is logged and counted, and the connection goes on.
 */
export function classifyFailure(err: unknown, logger: Logger | undefined): Failure {
  const name = err instanceof Error ? err.name : ''
  if (name === 'RecordTooLargeError') {
    return { reason: 'value-too-large', message: 'object too large for cache', status: 0x0003 }
  }
  if (CACHE_REFUSALS.has(name)) {
    const code = (err as { code?: unknown }).code
    logger?.warn({ code }, 'memcache: the session cache refused a request')
    return {
      reason: 'cache-refused',
      message: `refused by the session cache (${String(code)})`,
      status: 0x0084,
    }
  }
  logger?.error({ err }, 'memcache: unexpected error while serving a request')
  return { reason: 'internal', message: 'internal error', status: 0x0084 }
}
