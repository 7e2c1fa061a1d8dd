// The churn of the churn soak, in its own process: one libp2p node with the mesh key that dials the
// long-lived nodes in turn, `cycles` times or for `seconds`, whichever ends first. Each cycle opens a
// new connection (private network, Noise, yamux, identify), echoes a payload over it and closes it;
// every `bigEvery`-th payload is `bigBytes` long (the write size that made pnet's WebAssembly memory
// grow). The churner always uses our protector: a failure then belongs to the long-lived nodes.
import '@tlsmesh/mesh/polyfills'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createPrivateNetworkProtector } from '@tlsmesh/mesh'
import { createLibp2p } from 'libp2p'
import { echo } from './echo-protocol.ts'

export interface ChurnerConfig {
  meshKeyFile: string
  targets: string[]
  cycles: number
  seconds: number
  payloadBytes: number
  bigBytes: number
  /** 0: never */
  bigEvery: number
  /** cycles started per second at most; 0: back to back */
  cycleRate: number
  progressEvery: number
}

export interface ChurnerReport {
  cycles: number
  failures: number
  /** the first few failures, `name: message` */
  errors: string[]
  elapsedMs: number
}

const MAX_ERRORS_KEPT = 5
const CYCLE_TIMEOUT_MS = 15_000

const config = JSON.parse(process.argv[2] ?? '{}') as ChurnerConfig
const libp2p = await createLibp2p({
  // no listen address: the mesh must not dial back and keep connections to the churner open
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionProtector: createPrivateNetworkProtector({ psk: readFileSync(config.meshKeyFile) }),
  services: { identify: identify() },
})
const targets = config.targets.map((target) => multiaddr(target))
const small = randomBytes(config.payloadBytes)
const big = randomBytes(config.bigBytes)

// the orchestrator ends the churn early when a long-lived node died: the verdict is known
let stopRequested = false
process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') stopRequested = true
})
process.send?.({ type: 'ready' })

const started = Date.now()
const deadline = started + config.seconds * 1000
const report: ChurnerReport = { cycles: 0, failures: 0, errors: [], elapsedMs: 0 }
while (report.cycles < config.cycles && Date.now() < deadline && !stopRequested) {
  if (config.cycleRate > 0) {
    const due = started + (report.cycles / config.cycleRate) * 1000
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
  }
  const target = targets[report.cycles % targets.length]!
  const payload = config.bigEvery > 0 && report.cycles % config.bigEvery === config.bigEvery - 1 ? big : small
  const signal = AbortSignal.timeout(CYCLE_TIMEOUT_MS)
  try {
    const connection = await libp2p.dial(target, { signal, force: true })
    try {
      await echo(connection, payload, signal)
    } finally {
      await connection.close({ signal }).catch((err: Error) => connection.abort(err))
    }
  } catch (err) {
    report.failures++
    if (report.errors.length < MAX_ERRORS_KEPT)
      report.errors.push(`${(err as Error).name}: ${(err as Error).message}`)
  }
  report.cycles++
  if (report.cycles % config.progressEvery === 0) process.send?.({ type: 'progress', ...report })
}
report.elapsedMs = Date.now() - started
process.send?.({ type: 'done', ...report })
await libp2p.stop()
process.disconnect?.()
