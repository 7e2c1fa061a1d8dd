// The client host of a benchmark whose servers run in network namespaces: forked into a namespace
// of its own (forkScript's netns), it times TCP connects to other hosts (SYN to SYN-ACK: one round
// trip), runs the chained resuming clients and the resume-delay probe, and answers over IPC.
// Started by lab-processes.ts.
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ChainedClientInit, runChainedClients } from '../../scripts/fleet/resume-client.ts'
import { measureResumeDelay, type ResumeDelayInit } from '../../scripts/fleet/resume-delay.ts'

export type LabClientRequest =
  | { type: 'connect-times'; host: string; port: number; samples: number }
  | { type: 'chained'; init: ChainedClientInit }
  | { type: 'resume-delay'; init: ResumeDelayInit }

const CONNECT_TIMEOUT_MS = 2000

function connectOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect({ host, port, timeout: CONNECT_TIMEOUT_MS })
    socket.once('connect', () => {
      resolve(performance.now() - started)
      socket.destroy()
    })
    socket.once('timeout', () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)))
    socket.once('error', reject)
  })
}

/** `samples` connects one after another, 10 ms apart so that each finds the links idle. */
async function connectTimes(host: string, port: number, samples: number): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    times.push(await connectOnce(host, port))
    await sleep(10)
  }
  return times
}

async function answer(request: LabClientRequest): Promise<Record<string, unknown>> {
  switch (request.type) {
    case 'connect-times':
      return { ms: await connectTimes(request.host, request.port, request.samples) }
    case 'chained':
      return { result: await runChainedClients(request.init) }
    case 'resume-delay':
      return { result: await measureResumeDelay(request.init) }
  }
}

process.on('message', (request: LabClientRequest) => {
  answer(request).then(
    (reply) => process.send?.({ type: request.type, ...reply }),
    (err: Error) => process.send?.({ type: request.type, error: err.message }),
  )
})
process.on('disconnect', () => process.exit(0))
process.send?.({ type: 'ready' })
