import { createReplicaStore, LocalSessionCache } from '@tlsmesh/store'
import { BinaryProtocolSession, REQUEST_MAGIC } from '../src/binary-protocol.ts'
import { ByteQueue } from '../src/byte-queue.ts'
import { CacheOperations } from '../src/cache-operations.ts'
import type { ConnectionOutput, EndpointContext, ProtocolSession } from '../src/endpoint-context.ts'
import { EndpointCounters, EndpointStats } from '../src/endpoint-stats.ts'
import { MemcacheMetrics } from '../src/metrics.ts'
import { TextProtocolSession } from '../src/text-protocol.ts'
import { NOW_MS } from './endpoint-fixture.ts'

/** The socket end of a session: what it wrote and whether it closed. */
class RecordingOutput implements ConnectionOutput {
  readonly chunks: Buffer[] = []
  closed = false
  readonly congested = false

  write(chunk: Uint8Array): void {
    if (!this.closed) this.chunks.push(Buffer.from(chunk))
  }

  close(): void {
    this.closed = true
  }
}

export interface SessionRun {
  output: Buffer
  closed: boolean
  /** Bytes left unconsumed (an incomplete request). */
  leftover: number
}

/**
 * Feeds `chunks` to a fresh protocol session (picked from the first byte, as a connection does)
 * over a fresh cache, as if each chunk were one socket read. The same bytes must give the same
 * replies however they are split.
 */
export function runSession(
  chunks: Uint8Array[],
  limits: Partial<EndpointContext['limits']> = {},
): SessionRun {
  const now = () => NOW_MS
  // A small store: lru-cache preallocates its slots, and property tests make thousands of these.
  const cache = new LocalSessionCache({ store: createReplicaStore({ maxEntriesPerRealm: 64 }), now })
  const fullLimits = { maxValueBytes: 1024, maxLineBytes: 512, allowFlushAll: false, version: 'v', ...limits }
  const counters = new EndpointCounters()
  const settings = { maxConnections: 1, idleTimeoutMs: 0, allowFlushAll: false, socketMode: 0o660 }
  const ctx: EndpointContext = {
    ops: new CacheOperations(cache, 'default', now, fullLimits.maxValueBytes, counters),
    metrics: new MemcacheMetrics(undefined),
    counters,
    stats: new EndpointStats({
      counters,
      settings: { ...settings, ...fullLimits },
      version: fullLimits.version,
      now,
      addresses: () => [],
      cacheUsage: undefined,
      cpuUsage: () => ({ user: 0, system: 0 }),
    }),
    limits: fullLimits,
    logger: undefined,
  }
  const out = new RecordingOutput()
  const queue = new ByteQueue()
  let session: ProtocolSession | undefined
  for (const chunk of chunks) {
    if (out.closed) break
    queue.push(Buffer.from(chunk))
    if (queue.length === 0) continue
    session ??=
      queue.at(0) === REQUEST_MAGIC ? new BinaryProtocolSession(ctx, out) : new TextProtocolSession(ctx, out)
    session.process(queue)
  }
  return { output: Buffer.concat(out.chunks), closed: out.closed, leftover: queue.length }
}

/** `bytes` cut at the given offsets. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const sorted = [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let start = 0
  for (const cut of sorted) {
    out.push(bytes.subarray(start, cut))
    start = cut
  }
  out.push(bytes.subarray(start))
  return out
}
