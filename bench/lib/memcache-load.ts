// A memcached text-protocol load generator in its own process: `connections` clients, each sending
// one request at a time (so latency is per request) for `seconds`. Prints one JSON line.
import { createConnection, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

const { port, connections, seconds, op, valueBytes, keys } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number
  connections: number
  seconds: number
  op: 'get' | 'set'
  valueBytes: number
  keys: number
}

const value = Buffer.alloc(valueBytes, 0x61)
const keyOf = (i: number): string => `tls:${i.toString(16).padStart(64, '0')}`

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
        resolve()
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.write(request)
  })
}

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
const q = (p: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
process.stdout.write(
  `${JSON.stringify({ ops, opsPerSecond: ops / seconds, p50Ms: q(0.5), p99Ms: q(0.99) })}\n`,
)
