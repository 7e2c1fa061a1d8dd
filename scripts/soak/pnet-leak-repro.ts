// Reproduces the `@libp2p/pnet` 3.0.27 + `xsalsa20` 1.2.0 WebAssembly memory failure (design.md §6).
// Two libp2p nodes in this process keep `--live` connections open (as a mesh node keeps its peers)
// while they open and close `--connections` more, each carrying one echo, with an echo over a live
// connection every `--live-every` cycles; then `--writes` echoes of `--write-mib` MiB and `--pings`
// small ones go round-robin over the live connections. Samples the xsalsa20 module's memory (pages,
// leaked 64-byte slots), RSS and heap all along. A cipher that fails in `sendData` makes libp2p abort
// its connection (recorded; a new one replaces it); one that fails on the receive path throws from a
// socket listener, uncaught, which ends a real process: that ends the run, as `processKilledBy`.
//
//   node --import tsx scripts/soak/pnet-leak-repro.ts [--protector pnet|ours] [--connections 2000]
//     [--live 3] [--live-every 10] [--write-mib 1] [--writes 4] [--pings 2000] [--max-seconds 170]
//     [--json]
import '@tlsmesh/mesh/polyfills'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection, ConnectionProtector, Libp2p } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createPrivateNetworkProtector, generateMeshKey, parseMeshKey } from '@tlsmesh/mesh'
import { createLibp2p } from 'libp2p'
import { echo, handleEcho } from './echo-protocol.ts'
import { createXsalsa20Probe, type WasmMemorySample } from './xsalsa20-wasm-probe.ts'

const { values: args } = parseArgs({
  options: {
    protector: { type: 'string', default: 'pnet' },
    connections: { type: 'string', default: '2000' },
    'payload-bytes': { type: 'string', default: '1024' },
    'write-mib': { type: 'string', default: '1' },
    writes: { type: 'string', default: '4' },
    pings: { type: 'string', default: '2000' },
    live: { type: 'string', default: '3' },
    'live-every': { type: 'string', default: '10' },
    'sample-every': { type: 'string', default: '250' },
    'max-seconds': { type: 'string', default: '170' },
    json: { type: 'boolean', default: false },
  },
})
const protectorName = args.protector === 'ours' ? 'ours' : 'pnet'
const connections = Number(args.connections)
const payloadBytes = Number(args['payload-bytes'])
const writeBytes = Math.round(Number(args['write-mib']) * 2 ** 20)
const writes = Number(args.writes)
const pings = Number(args.pings)
const live = Math.max(1, Number(args.live))
const liveEvery = Math.max(1, Number(args['live-every']))
const sampleEvery = Number(args['sample-every'])
const deadline = Date.now() + Number(args['max-seconds']) * 1000
const psk = parseMeshKey(generateMeshKey())

type Phase = 'churn' | 'write' | 'ping'

interface Sample extends WasmMemorySample {
  phase: Phase
  /** Connections opened and closed so far (churn), or writes, or pings done so far. */
  step: number
  rssMiB: number
  heapMiB: number
  elapsedMs: number
}

interface Failure {
  phase: Phase
  step: number
  name: string
  message: string
}

const root = fileURLToPath(new URL('../..', import.meta.url))
const probe = createXsalsa20Probe(root)
const started = performance.now()
const samples: Sample[] = []
/** Connections closed by an error (a cipher throwing in `sendData` makes libp2p abort its connection). */
const connectionFailures: Failure[] = []
let processKilledBy: Failure | undefined
let phase: Phase = 'churn'
let step = 0

function sample(): void {
  const memory = process.memoryUsage()
  const s: Sample = {
    phase,
    step,
    ...probe(),
    rssMiB: round(memory.rss / 2 ** 20),
    heapMiB: round(memory.heapUsed / 2 ** 20),
    elapsedMs: Math.round(performance.now() - started),
  }
  samples.push(s)
  if (!args.json) {
    console.log(
      `${s.phase.padEnd(5)} ${String(s.step).padStart(5)}  wasm ${String(s.pages).padStart(4)} pages ` +
        `${String(s.slots).padStart(5)} slots  rss ${s.rssMiB} MiB  heap ${s.heapMiB} MiB  ${s.elapsedMs} ms`,
    )
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}

function failure(err: Error): Failure {
  return { phase, step, name: err.name, message: err.message }
}

function report(): void {
  const result = {
    protector: protectorName,
    connections,
    writeBytes,
    writes,
    connectionFailures,
    processKilledBy: processKilledBy ?? null,
    samples,
  }
  if (args.json) {
    console.log(JSON.stringify(result))
    return
  }
  const first = connectionFailures[0]
  if (first !== undefined) {
    console.log(
      `${connectionFailures.length} connection(s) closed by an error, first in ${first.phase} ${first.step}: ${first.name}: ${first.message}`,
    )
  }
  if (processKilledBy !== undefined) {
    const k = processKilledBy
    console.log(`PROCESS KILLED in ${k.phase} ${k.step}: uncaught ${k.name}: ${k.message}`)
  } else if (first === undefined) {
    console.log('no failure')
  }
}

// On the receive path the cipher runs inside a socket's event listener: only this sees its throw.
const onUncaught = (err: Error): void => {
  if (processKilledBy !== undefined) return
  processKilledBy = failure(err)
  if (!args.json) console.log(err.stack)
  sample()
  report()
  process.exit(0)
}
process.on('uncaughtException', onUncaught)
process.on('unhandledRejection', (reason) =>
  onUncaught(reason instanceof Error ? reason : new Error(String(reason))),
)
setTimeout(
  () => {
    console.error('pnet-leak-repro: hard time limit reached')
    report()
    process.exit(2)
  },
  deadline - Date.now() + 15_000,
).unref()

async function createNode(): Promise<Libp2p> {
  const connectionProtector: () => ConnectionProtector =
    protectorName === 'ours' ? createPrivateNetworkProtector({ psk }) : preSharedKey({ psk })
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector,
    connectionManager: { inboundConnectionThreshold: 1_000_000, maxIncomingPendingConnections: 100 },
  })
  await handleEcho(node)
  node.addEventListener('connection:open', (event) => {
    event.detail.addEventListener('close', (close) => {
      const error = (close as Event & { error?: Error }).error
      // A reset is the peer's view of a connection killed on its side: count the cause, once. A
      // ConnectionClosedError is libp2p racing its own close of a churned connection: not a cipher.
      if (error === undefined || error.name === 'ConnectionClosedError') return
      if (!/ECONNRESET|reset/i.test(error.message)) connectionFailures.push(failure(error))
    })
  })
  return node
}

const a = await createNode()
const b = await createNode()
const target = b.getMultiaddrs()[0]!
sample()

/**
 * The live connections, used round-robin. A connection that failed is replaced by a new one (opened
 * then, so its ciphers see the memory as it is then).
 */
const kept: Array<Connection | undefined> = Array.from({ length: live }, () => undefined)
let exchanges = 0
async function exchange(bytes: Uint8Array, timeoutMs: number): Promise<void> {
  const slot = exchanges++ % live
  try {
    kept[slot] ??= await a.dial(target, { signal: AbortSignal.timeout(10_000), force: true })
    await echo(kept[slot], bytes, AbortSignal.timeout(timeoutMs))
  } catch (err) {
    await kept[slot]?.close().catch(() => {})
    kept[slot] = undefined
    // the cause was recorded by the connection's close listener, on whichever side it happened
    if (connectionFailures.length === 0) connectionFailures.push(failure(err as Error))
  }
}

const small = randomBytes(64)
for (let i = 0; i < live; i++) await exchange(small, 10_000)

const payload = randomBytes(payloadBytes)
for (step = 1; step <= connections && Date.now() < deadline; step++) {
  const signal = AbortSignal.timeout(10_000)
  const connection = await a.dial(target, { signal, force: true })
  await echo(connection, payload, signal)
  await connection.close()
  if (step % liveEvery === 0) await exchange(small, 10_000)
  if (step % sampleEvery === 0) sample()
}
step--
if (step % sampleEvery !== 0) sample()

phase = 'write'
const big = randomBytes(writeBytes)
for (step = 1; step <= writes && Date.now() < deadline; step++) {
  await exchange(big, 60_000)
  sample()
}
phase = 'ping'
for (step = 1; step <= pings && Date.now() < deadline; step++) {
  await exchange(small, 10_000)
  if (step % sampleEvery === 0) sample()
}
step--
if (step % sampleEvery !== 0) sample()
report()
await Promise.race([Promise.all([a.stop(), b.stop()]), new Promise((resolve) => setTimeout(resolve, 3000))])
process.exit(0)
