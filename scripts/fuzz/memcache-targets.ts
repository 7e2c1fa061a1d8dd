// Fuzz targets for the memcached endpoint's parsers (text and binary protocol), driven as a
// connection drives them: a ByteQueue fed socket reads, a protocol session over a real cache. A
// finding is: process() throwing (the connection would drop the client), an unexpected error caught
// and answered as "internal error" (logged at error level), or replies that differ when the same
// bytes arrive in other reads (the parsers must not depend on where TCP splits a request).
import {
  BinaryProtocolSession,
  ByteQueue,
  CacheOperations,
  type ConnectionOutput,
  type EndpointContext,
  EndpointCounters,
  EndpointStats,
  MemcacheMetrics,
  type ProtocolSession,
  REQUEST_MAGIC,
  TextProtocolSession,
} from '@tlsmesh/memcache/protocol'
import { createReplicaStore, LocalSessionCache, type Logger } from '@tlsmesh/store'
import type { FuzzTarget } from './coverage-fuzzer.ts'

export class ParserPropertyError extends Error {
  static override name = 'ParserPropertyError'
  override name = 'ParserPropertyError'
}

const NOW = 1_750_000_000_000
// One metrics object for every run: prom-client counters are costly to create, and nothing reads them.
const metrics = new MemcacheMetrics(undefined)

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

/** A logger that turns the endpoint's "unexpected error" into a finding. */
const failOnError: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (obj) => {
    const err = (obj as { err?: unknown }).err
    throw err instanceof Error ? err : new ParserPropertyError('logged an unexpected error')
  },
  child: () => failOnError,
}

function run(protocol: 'text' | 'binary', chunks: Buffer[]): { output: Buffer; closed: boolean } {
  const now = (): number => NOW
  // Small: lru-cache preallocates its slots, and the fuzzer makes one cache per run.
  const cache = new LocalSessionCache({ store: createReplicaStore({ maxEntriesPerRealm: 16 }), now })
  // flush_all stays off, as by default: the server refuses it over a cache that cannot flush.
  const limits = { maxValueBytes: 256, maxLineBytes: 512, allowFlushAll: false, version: '1.6.21' }
  const counters = new EndpointCounters()
  const settings = { maxConnections: 1, idleTimeoutMs: 0, socketMode: 0o660, ...limits }
  const ctx: EndpointContext = {
    ops: new CacheOperations(cache, 'default', now, limits.maxValueBytes, counters),
    metrics,
    counters,
    // A fixed CPU time: the same bytes must give the same `stats` whatever the reads.
    stats: new EndpointStats({
      counters,
      settings,
      version: limits.version,
      now,
      addresses: () => [],
      cacheUsage: undefined,
      cpuUsage: () => ({ user: 0, system: 0 }),
    }),
    limits,
    logger: failOnError,
  }
  const out = new RecordingOutput()
  const queue = new ByteQueue()
  const session: ProtocolSession =
    protocol === 'binary' ? new BinaryProtocolSession(ctx, out) : new TextProtocolSession(ctx, out)
  for (const chunk of chunks) {
    if (out.closed) break
    queue.push(chunk)
    session.process(queue)
  }
  return { output: Buffer.concat(out.chunks), closed: out.closed }
}

/** Cut points derived from the input itself, so that a saved input replays the same reads. */
function split(data: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  let seed = data.length
  for (const byte of data.subarray(0, 16)) seed = (seed * 31 + byte) >>> 0
  let start = 0
  while (start < data.length) {
    seed = (seed * 1103515245 + 12345) >>> 0
    const size = 1 + (seed % 13)
    chunks.push(data.subarray(start, start + size))
    start += size
  }
  return chunks
}

function checkSplits(protocol: 'text' | 'binary', data: Buffer): void {
  const whole = run(protocol, [data])
  const pieces = run(protocol, split(data))
  if (whole.closed !== pieces.closed || !whole.output.equals(pieces.output)) {
    throw new ParserPropertyError(`${protocol} replies differ when the same bytes arrive in other reads`)
  }
}

const text = (lines: string): Buffer => Buffer.from(lines, 'latin1')

export const memcacheTextTarget: FuzzTarget = {
  name: 'memcache-text',
  coverage: ['/packages/memcache/src/', '/packages/store/src/'],
  fuzz(data) {
    // A connection whose first byte is the binary magic is a binary one: not this parser's input.
    if (data[0] === REQUEST_MAGIC) return
    checkSplits('text', data)
  },
  seeds: () => [
    text('set k 5 0 3\r\nabc\r\nget k\r\ngets k\r\n'),
    text('add k 0 60 2 noreply\r\nhi\r\nappend k 0 0 1\r\n!\r\nprepend k 0 0 1\r\n<\r\nget k x\r\n'),
    text('set k 0 0 1\r\na\r\ncas k 0 0 1 1\r\nb\r\ncas k 0 0 1 999 noreply\r\nc\r\n'),
    text('set k 0 0 1\r\na\r\ntouch k 10\r\ngat 10 k\r\ngats 0 k\r\ndelete k\r\ndelete k 0 noreply\r\n'),
    text('version\r\nverbosity 1\r\nflush_all\r\nflush_all 0 noreply\r\nincr k 1\r\nquit\r\n'),
    text('set k 0 -1 2\r\nab\r\nset big 0 0 999\r\n'),
  ],
  dictionary: [
    'get ',
    'gets ',
    'gat ',
    'gats ',
    'set ',
    'add ',
    'replace ',
    'append ',
    'prepend ',
    'cas ',
    'delete ',
    'touch ',
    'incr ',
    'flush_all',
    'version',
    'verbosity ',
    'quit',
    ' noreply',
    '\r\n',
    '\n',
    ' 0',
    ' -1',
    ' 4294967295',
    ' 18446744073709551615',
    ' 2592001',
  ].map(text),
}

/** A binary request: header, extras, key, value. */
function request(opcode: number, init: { key?: string; extras?: Buffer; value?: string; cas?: bigint } = {}) {
  const extras = init.extras ?? Buffer.alloc(0)
  const key = Buffer.from(init.key ?? '')
  const value = Buffer.from(init.value ?? '')
  const header = Buffer.alloc(24)
  header[0] = REQUEST_MAGIC
  header[1] = opcode
  header.writeUInt16BE(key.length, 2)
  header[4] = extras.length
  header.writeUInt32BE(extras.length + key.length + value.length, 8)
  header.writeUInt32BE(0xdeadbeef, 12)
  header.writeBigUInt64BE(init.cas ?? 0n, 16)
  return Buffer.concat([header, extras, key, value])
}
const u32s = (...values: number[]): Buffer => {
  const b = Buffer.alloc(4 * values.length)
  for (const [i, v] of values.entries()) b.writeUInt32BE(v, 4 * i)
  return b
}

export const memcacheBinaryTarget: FuzzTarget = {
  name: 'memcache-binary',
  coverage: ['/packages/memcache/src/', '/packages/store/src/'],
  fuzz(data) {
    if (data[0] !== REQUEST_MAGIC) return
    checkSplits('binary', data)
  },
  seeds: () => [
    Buffer.concat([
      request(0x01, { key: 'k', extras: u32s(5, 0), value: 'abc' }),
      request(0x00, { key: 'k' }),
      request(0x0c, { key: 'k' }),
      request(0x0d, { key: 'missing' }),
    ]),
    Buffer.concat([
      request(0x02, { key: 'k', extras: u32s(0, 60), value: 'a' }),
      request(0x0e, { key: 'k', value: 'b' }),
      request(0x0f, { key: 'k', value: 'c' }),
      request(0x03, { key: 'k', extras: u32s(0, 0), value: 'd', cas: 1n }),
      request(0x1c, { key: 'k', extras: u32s(10) }),
      request(0x1d, { key: 'k', extras: u32s(0) }),
    ]),
    Buffer.concat([
      request(0x11, { key: 'q', extras: u32s(0, 0), value: 'x' }),
      request(0x09, { key: 'q' }),
      request(0x04, { key: 'q' }),
      request(0x05, { key: 'q', extras: Buffer.alloc(20) }),
      request(0x08, { extras: u32s(0) }),
      request(0x0a),
      request(0x0b),
      request(0x1b, { extras: u32s(1) }),
      request(0x07),
    ]),
    request(0x01, { key: 'big', extras: u32s(0, 0), value: 'v'.repeat(300) }),
  ],
  dictionary: [
    Buffer.from([REQUEST_MAGIC]),
    u32s(0),
    u32s(0xffffffff),
    Buffer.from([0x00, 0x00]),
    Buffer.alloc(8),
  ],
}
