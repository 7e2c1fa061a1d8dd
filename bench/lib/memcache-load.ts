// A memcached text-protocol load generator in its own process, in one of two modes:
// - closed loop (bench/memcache.ts): `connections` clients, each sending one request at a time (so
//   latency is per request) for `seconds`. Prints one JSON line.
// - open loop (bench/stall.ts: forked with IPC, `ratePerSecond` given): gets of random keys among
//   `keys` (which must exist: nothing is populated) at `ratePerSecond`, round robin over the
//   connections, each sent when it is due whether or not the ones before it were answered (pipelined,
//   as a TLS server's lookups arrive), until killed. Latency runs from sending to the whole reply, so a
//   server that stalls is charged for every request it held up (no coordinated omission), and the
//   generator is not charged for its own timer's lateness. Every `window` message is answered with
//   the latencies since the one before.
import { createConnection, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { quantileOfSorted } from './bench-report.ts'
import { memcacheKey as keyOf } from './memcache-keys.ts'

const { port, connections, seconds, op, valueBytes, keys, ratePerSecond } = JSON.parse(
  process.argv[2] ?? '{}',
) as {
  port: number
  connections: number
  seconds: number
  op: 'get' | 'set'
  valueBytes: number
  keys: number
  ratePerSecond?: number
}

/** Latencies of one window in the open-loop mode. */
export interface LoadWindow {
  gets: number
  /** Gets answered with a value. */
  hits: number
  getsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

const value = Buffer.alloc(valueBytes ?? 0, 0x61)

function client(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1', () => resolve(socket))
    socket.setNoDelay(true)
    socket.once('error', reject)
  })
}

/** Sends `request` and resolves when a reply ending in `terminator` has arrived. */
function roundTrip(socket: Socket, request: Buffer | string, terminator: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = ''
    const onData = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('latin1')).slice(-64)
      if (tail.endsWith(terminator) || tail.endsWith('ERROR\r\n')) {
        socket.off('data', onData)
        socket.off('error', reject)
        resolve()
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.write(request)
  })
}

/** The length of the first whole reply to a get in `buffer`, and whether it hit; undefined if partial. */
function getReply(buffer: Buffer): { bytes: number; hit: boolean } | undefined {
  const eol = buffer.indexOf('\r\n')
  if (eol < 0) return undefined
  // END (a miss) or an error line.
  if (buffer.toString('latin1', 0, 6) !== 'VALUE ') return { bytes: eol + 2, hit: false }
  // VALUE <key> <flags> <bytes>, the data, END.
  const bytes = eol + 2 + Number(buffer.toString('latin1', 0, eol).split(' ')[3]) + 2 + 'END\r\n'.length
  return buffer.length >= bytes ? { bytes, hit: true } : undefined
}

async function closedLoop(): Promise<void> {
  const setRequest = (i: number): Buffer =>
    Buffer.concat([Buffer.from(`set ${keyOf(i)} 0 300 ${value.length}\r\n`), value, Buffer.from('\r\n')])

  // Populate the keys the gets will read.
  const loader = await client()
  for (let i = 0; i < keys; i++) await roundTrip(loader, setRequest(i), 'STORED\r\n')
  loader.destroy()

  const latencies: number[] = []
  let ops = 0
  const deadline = performance.now() + seconds * 1000
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const socket = await client()
      let i = c
      while (performance.now() < deadline) {
        const started = performance.now()
        if (op === 'get') await roundTrip(socket, `get ${keyOf(i % keys)}\r\n`, 'END\r\n')
        else await roundTrip(socket, setRequest(i % keys), 'STORED\r\n')
        latencies.push(performance.now() - started)
        ops++
        i += connections
      }
      socket.destroy()
    }),
  )
  latencies.sort((a, b) => a - b)
  process.stdout.write(
    `${JSON.stringify({ ops, opsPerSecond: ops / seconds, p50Ms: quantileOfSorted(latencies, 0.5), p99Ms: quantileOfSorted(latencies, 0.99) })}\n`,
  )
}

async function openLoop(rate: number): Promise<void> {
  let latencies: number[] = []
  let hits = 0
  let windowStarted = performance.now()
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'window') return
    const sorted = latencies.sort((a, b) => a - b)
    const window: LoadWindow = {
      gets: sorted.length,
      hits,
      getsPerSecond: (sorted.length * 1000) / (performance.now() - windowStarted),
      p50Ms: quantileOfSorted(sorted, 0.5),
      p99Ms: quantileOfSorted(sorted, 0.99),
      maxMs: sorted.at(-1) ?? 0,
    }
    latencies = []
    hits = 0
    windowStarted = performance.now()
    process.send?.({ type: 'window', ...window })
  })
  process.once('disconnect', () => process.exit(0))
  const sockets = await Promise.all(Array.from({ length: connections }, client))
  /** Per connection, when each request still unanswered was sent, oldest first (replies come in order). */
  const sent = sockets.map((socket) => {
    const times: number[] = []
    let pending: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      for (let reply = getReply(pending); reply !== undefined; reply = getReply(pending)) {
        latencies.push(performance.now() - times.shift()!)
        if (reply.hit) hits++
        pending = pending.subarray(reply.bytes)
      }
    })
    return times
  })
  process.send?.({ type: 'ready' })
  // One timer: each turn sends every get that has come due since the last, round robin.
  const interval = 1000 / rate
  let due = performance.now()
  for (let i = 0; ; ) {
    while (due <= performance.now()) {
      const c = i++ % connections
      sent[c]!.push(performance.now())
      sockets[c]!.write(`get ${keyOf(Math.floor(Math.random() * keys))}\r\n`)
      due += interval
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

if (ratePerSecond !== undefined) await openLoop(ratePerSecond)
else await closedLoop()
