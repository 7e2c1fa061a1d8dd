// The checks every "servers keep their sessions in a local tlsmeshd" fleet must pass, whatever the
// server (H2O, Apache): shared here so that each interop test states only how its servers start.
import { join } from 'node:path'
import { expect } from 'vitest'
import {
  measureResumptionRate,
  measureTimeToResume,
  nodeHandshake,
  sClient,
  type TlsVersion,
  timeHandshakes,
} from './tls-clients.ts'
import { type Tlsmeshd, waitForReplicas } from './tlsmeshd-fleet.ts'

/** A TLS 1.2 full handshake stores one session; a TLS 1.3 one sends two tickets, each a session. */
export const SESSIONS_PER_FULL_HANDSHAKE: Record<TlsVersion, number> = { 'TLSv1.2': 1, 'TLSv1.3': 2 }

export interface FleetServer {
  name: string
  host: string
  port: number
}

/** A session made on server 1 (openssl s_client -sess_out) resumes on every other (-sess_in). */
export async function expectSessionResumesAcross(init: {
  servers: FleetServer[]
  daemons: Tlsmeshd[]
  sessionFile: string
  version: TlsVersion
}): Promise<void> {
  const { servers, daemons, version } = init
  const before = await waitForReplicas(daemons)
  const made = await sClient({ ...servers[0]!, version, sessOut: init.sessionFile })
  expect(made.line).toMatch(new RegExp(`^New, ${version}`))
  await waitForReplicas(daemons, before + SESSIONS_PER_FULL_HANDSHAKE[version])
  for (const server of servers.slice(1)) {
    const resumed = await sClient({ ...server, version, sessIn: init.sessionFile })
    expect(resumed.line, server.name).toMatch(new RegExp(`^Reused, ${version}`))
  }
}

/** 50 sessions made on random servers all resume on another once replicated; and how soon they can. */
export async function expectResumptionRate(init: {
  label: string
  servers: FleetServer[]
  daemons: Tlsmeshd[]
  version: TlsVersion
}): Promise<void> {
  const { servers, daemons, version } = init
  const start = await waitForReplicas(daemons)
  const replicated = await measureResumptionRate(servers, {
    sessions: 50,
    version,
    afterReplication: async () => {
      await waitForReplicas(daemons, start + 50 * SESSIONS_PER_FULL_HANDSHAKE[version])
    },
  })
  // A client that comes straight back, to another server: how soon can it resume?
  const soon = await measureTimeToResume(servers, { sessions: 30, version })
  console.log(`${init.label} ${version}`, JSON.stringify({ replicated, soon }))
  expect(replicated.resumed).toBe(50)
  expect(soon.ms.max).toBeLessThan(1000)
}

/**
 * With server 3's tlsmeshd stopped, server 3 completes every handshake (full) promptly, and
 * servers 1 and 2 still resume each other's sessions both ways through their own daemons.
 */
export async function expectStoppedDaemonCostsOnlyFullHandshakes(init: {
  label: string
  servers: [FleetServer, FleetServer, FleetServer]
  daemons: Tlsmeshd[]
  dir: string
}): Promise<void> {
  const [first, second, third] = init.servers
  const { daemons } = init
  const live = daemons.slice(0, 2)
  const before = await waitForReplicas(daemons)
  const offered = await nodeHandshake({ ...first, version: 'TLSv1.2' })
  await waitForReplicas(daemons, before + 1)
  // Baseline: daemon 3 up, the session resumes on server 3.
  const baseline = await timeHandshakes(third, { count: 10, version: 'TLSv1.2', session: offered.session! })
  expect(baseline.reused).toBe(10)

  await daemons[2]!.stop()

  const results: Record<string, unknown> = { baseline }
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const session = (await nodeHandshake({ ...first, version })).session!
    // Offering a session makes server 3 look it up (a miss now); each full handshake stores one.
    const timed = await timeHandshakes(third, { count: 20, version, session })
    const fresh = await timeHandshakes(third, { count: 10, version })
    results[version] = { offered: timed, fresh }
    expect(timed.reused).toBe(0)
    expect(timed.ms.max).toBeLessThan(1000)
    expect(fresh.ms.max).toBeLessThan(1000)
  }
  console.log(
    `${init.label} handshakes on the instance whose tlsmeshd is stopped (ms)`,
    JSON.stringify(results),
  )

  for (const [from, to] of [
    [first, second],
    [second, first],
  ] as const) {
    const sessionFile = join(init.dir, `stopped-${from.name}.session`)
    const start = await waitForReplicas(live)
    expect((await sClient({ ...from, version: 'TLSv1.2', sessOut: sessionFile })).reused).toBe(false)
    await waitForReplicas(live, start + 1)
    expect((await sClient({ ...to, version: 'TLSv1.2', sessIn: sessionFile })).reused).toBe(true)
  }
}
