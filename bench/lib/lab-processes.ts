// Benchmark processes on the hosts of a NetnsLab, driven over IPC: the client host (lab-client.ts)
// and a tlsmeshd per server host (lab-tlsmeshd.ts).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChainedClientInit, ChainedClientResult } from '../../scripts/fleet/resume-client.ts'
import type { ResumeDelayInit, ResumeDelayResult } from '../../scripts/fleet/resume-delay.ts'
import { forkScript, request, stopChild } from '../../scripts/lib/child-processes.ts'
import type { LabHost } from '../../test/e2e/lib/netns.ts'
import type { LabClientRequest } from './lab-client.ts'
import type { LabTlsmeshdConfig } from './lab-tlsmeshd.ts'

const clientScript = fileURLToPath(new URL('./lab-client.ts', import.meta.url))
const tlsmeshdScript = fileURLToPath(new URL('./lab-tlsmeshd.ts', import.meta.url))

export interface LabClient {
  /** TCP connect times to host:port, ms (one round trip each). */
  connectTimes(host: string, port: number, samples: number): Promise<number[]>
  chained(init: ChainedClientInit): Promise<ChainedClientResult>
  resumeDelay(init: ResumeDelayInit): Promise<ResumeDelayResult>
  stop(): Promise<void>
}

export async function startLabClient(host: LabHost): Promise<LabClient> {
  const { child } = await forkScript(clientScript, [], { netns: host.ns })
  const ask = async <T>(message: LabClientRequest, key: string, timeoutMs: number): Promise<T> => {
    const { type, ...payload } = message
    const reply = await request<Record<string, unknown>>(child, type, payload, { timeoutMs })
    if (typeof reply.error === 'string') throw new Error(`client in ${host.ns}: ${reply.error}`)
    return reply[key] as T
  }
  return {
    connectTimes: (h, port, samples) =>
      ask({ type: 'connect-times', host: h, port, samples }, 'ms', 10_000 + samples * 2_100),
    // Past the clients' own deadline (runChainedClients stops by timeoutMs, 120 s by default).
    chained: (init) => ask({ type: 'chained', init }, 'result', (init.timeoutMs ?? 120_000) + 30_000),
    // Bounded by the ladder: at most 11 attempts of at most 10 s each per sample.
    resumeDelay: (init) => ask({ type: 'resume-delay', init }, 'result', 30_000 + init.samples * 2_000),
    stop: () => stopChild(child),
  }
}

export interface LabTlsmeshd {
  /** Its lab multiaddr with /p2p/<peer id>, to seed the others. */
  seedAddr: string
  /** Gossip mesh peers of the realm. */
  status(): Promise<{ meshPeers: number }>
  stop(): Promise<void>
}

export async function startLabTlsmeshd(host: LabHost, config: LabTlsmeshdConfig): Promise<LabTlsmeshd> {
  const { child, ready } = await forkScript(tlsmeshdScript, [JSON.stringify(config)], { netns: host.ns })
  return {
    seedAddr: ready.seedAddr as string,
    status: async () => {
      const reply = await request<Record<string, unknown>>(child, 'status')
      if (typeof reply.error === 'string') throw new Error(`${config.name}: ${reply.error}`)
      return { meshPeers: reply.meshPeers as number }
    },
    stop: () => stopChild(child),
  }
}

/**
 * SIGKILLs every process left in the lab's namespaces. Deleting a namespace does not end the
 * processes in it, and a daemon whose parent was killed (a timed-out run) would live on there.
 */
export function killLabProcesses(hosts: LabHost[]): void {
  for (const host of hosts) {
    let pids: string[] = []
    try {
      pids = execFileSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).split('\n')
    } catch {
      continue
    }
    for (const pid of pids.filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
  }
}
