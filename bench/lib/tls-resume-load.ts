// TLS 1.2 resumptions at a steady rate against one server, in its own process (bench/stall.ts): the
// clients a Node server embedding the mesh answers from its replica. Forked with IPC and a JSON
// argument; makes `sessions` full handshakes first (each session reaches the replica through the
// adapter's newSession), then, open loop, one connection every 1/`ratePerSecond` s offering the next
// of those sessions, whether or not the ones before it have finished. A handshake's time runs from the
// connect to the secure connection, so a server that stalls is charged for every handshake it held
// up. Every `window` message is answered with the handshakes finished since the one before, and with
// this process's own event-loop delay over them: a client that waits for a core is slow on its own.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { connect } from 'node:tls'
import { quantileOfSorted } from './bench-report.ts'

const { port, ratePerSecond, sessions } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number
  ratePerSecond: number
  sessions: number
}

/** The handshakes of one window. */
export interface ResumeWindow {
  handshakes: number
  /** Handshakes in which the server took the offered session. */
  resumed: number
  errors: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** This process's event-loop delay p99 and max over the window, ms. */
  clientLoopP99Ms: number
  clientLoopMaxMs: number
}

/** One connection offering `session`: its handshake time, whether it resumed, and its session. */
function handshake(session: Buffer | undefined): Promise<{ ms: number; resumed: boolean; session: Buffer }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
      ...(session !== undefined ? { session } : {}),
    })
    socket.once('secureConnect', () => {
      const ms = performance.now() - started
      const resumed = socket.isSessionReused()
      const got = socket.getSession()
      socket.destroy()
      if (got === undefined) reject(new Error('no TLS session'))
      else resolve({ ms, resumed, session: got })
    })
    socket.once('error', reject)
    // Closed before its secure connection without an error: counted as failed too.
    socket.once('close', () => reject(new Error('closed during the handshake')))
  })
}

const offered: Buffer[] = []
for (let i = 0; i < sessions; i++) offered.push((await handshake(undefined)).session)

let latencies: number[] = []
let resumed = 0
let errors = 0
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
loopDelay.enable()
process.on('message', (message: { type: string }) => {
  if (message.type !== 'window') return
  const sorted = latencies.sort((a, b) => a - b)
  const window: ResumeWindow = {
    handshakes: sorted.length,
    resumed,
    errors,
    p50Ms: quantileOfSorted(sorted, 0.5),
    p99Ms: quantileOfSorted(sorted, 0.99),
    maxMs: sorted.at(-1) ?? 0,
    clientLoopP99Ms: loopDelay.percentile(99) / 1e6,
    clientLoopMaxMs: loopDelay.max / 1e6,
  }
  loopDelay.reset()
  latencies = []
  resumed = 0
  errors = 0
  process.send?.({ type: 'window', ...window })
})
process.once('disconnect', () => process.exit(0))
process.send?.({ type: 'ready' })

const interval = 1000 / ratePerSecond
let due = performance.now()
for (let i = 0; ; ) {
  while (due <= performance.now()) {
    handshake(offered[i++ % offered.length]).then(
      (done) => {
        latencies.push(done.ms)
        if (done.resumed) resumed++
      },
      () => errors++,
    )
    due += interval
  }
  await new Promise((resolve) => setTimeout(resolve, 1))
}
