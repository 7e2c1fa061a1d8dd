// Three H2O 2.2 instances (Debian's h2o), each with its TLS session cache in memcached pointed at its
// own tlsmeshd on loopback; the three daemons form one mesh. A session made on one instance resumes
// on the others (memcached binary and text protocols, TLS 1.2 session ids and TLS 1.3 stateful
// tickets), and with one daemon stopped its H2O still completes every handshake, promptly.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type H2oMemcachedProtocol, type H2oServer, h2oInstalled, startH2o } from './lib/h2o-server.ts'
import { createInteropFiles, type InteropFiles } from './lib/interop-files.ts'
import { freePort, stopAll } from './lib/managed-process.ts'
import {
  measureResumptionRate,
  measureTimeToResume,
  nodeHandshake,
  sClient,
  type TlsVersion,
  timeHandshakes,
} from './lib/tls-clients.ts'
import { startMeshedTlsmeshd, type Tlsmeshd, waitForReplicas } from './lib/tlsmeshd-fleet.ts'

const REALM = 'www'
const isRoot = process.getuid?.() === 0
/** A TLS 1.2 full handshake stores one session; a TLS 1.3 one sends two tickets, each a session. */
const SESSIONS_PER_FULL_HANDSHAKE: Record<TlsVersion, number> = { 'TLSv1.2': 1, 'TLSv1.3': 2 }

async function startH2oFleet(files: InteropFiles, daemons: Tlsmeshd[], protocol: H2oMemcachedProtocol) {
  const servers: H2oServer[] = []
  try {
    for (const [i, daemon] of daemons.entries()) {
      servers.push(
        await startH2o({
          name: `h2o-${protocol.toLowerCase()}-${i + 1}`,
          dir: files.dir,
          port: await freePort(),
          certFile: files.certFile,
          keyFile: files.keyFile,
          memcachedPort: daemon.memcachePort!,
          protocol,
        }),
      )
    }
    return servers
  } catch (err) {
    await stopAll(servers)
    throw err
  }
}

describe.skipIf(!h2oInstalled() && !isRoot)('H2O fleet sharing sessions through tlsmeshd (memcached)', () => {
  let files: InteropFiles | undefined
  let daemons: Tlsmeshd[] = []

  beforeAll(async () => {
    files = await createInteropFiles('h2o')
    daemons = await startMeshedTlsmeshd(3, {
      meshKeyFile: files.meshKeyFile,
      realm: REALM,
      memcacheTcp: true,
    })
  })

  afterAll(async () => {
    await stopAll(daemons)
    files?.remove()
  })

  describe.each<H2oMemcachedProtocol>(['BINARY', 'ASCII'])('memcached protocol %s', (protocol) => {
    let servers: H2oServer[] = []

    beforeAll(async () => {
      servers = await startH2oFleet(files!, daemons, protocol)
    })

    afterAll(async () => {
      await stopAll(servers)
    })

    it.each<TlsVersion>(['TLSv1.2', 'TLSv1.3'])(
      'a %s session made on H2O 1 resumes on H2O 2 and 3 (openssl s_client)',
      async (version) => {
        const sessionFile = join(files!.dir, `${protocol}-${version}.session`)
        const before = await waitForReplicas(daemons)
        const made = await sClient({ ...servers[0]!, version, sessOut: sessionFile })
        expect(made.line).toMatch(new RegExp(`^New, ${version}`))
        await waitForReplicas(daemons, before + SESSIONS_PER_FULL_HANDSHAKE[version])
        for (const server of servers.slice(1)) {
          const resumed = await sClient({ ...server, version, sessIn: sessionFile })
          expect(resumed.line, server.name).toMatch(new RegExp(`^Reused, ${version}`))
        }
      },
    )

    // Once is enough: the rate does not depend on the memcached protocol.
    if (protocol === 'BINARY') {
      it.each<TlsVersion>(['TLSv1.2', 'TLSv1.3'])(
        '%s: 50 sessions made on random instances resume on another one',
        async (version) => {
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
          console.log(`H2O ${protocol} ${version}`, JSON.stringify({ replicated, soon }))
          expect(replicated.resumed).toBe(50)
          expect(soon.ms.max).toBeLessThan(1000)
        },
      )
    }
  })

  describe('with one tlsmeshd stopped', () => {
    let servers: H2oServer[] = []

    beforeAll(async () => {
      servers = await startH2oFleet(files!, daemons, 'BINARY')
    })

    afterAll(async () => {
      await stopAll(servers)
    })

    it('its H2O completes every handshake (full) at once, the other two keep resuming', async () => {
      const [h2o1, h2o2, h2o3] = servers as [H2oServer, H2oServer, H2oServer]
      const live = daemons.slice(0, 2)
      const before = await waitForReplicas(daemons)
      const offered = await nodeHandshake({ ...h2o1, version: 'TLSv1.2' })
      await waitForReplicas(daemons, before + 1)
      // Baseline: daemon 3 up, the session resumes on H2O 3.
      const baseline = await timeHandshakes(h2o3, {
        count: 10,
        version: 'TLSv1.2',
        session: offered.session!,
      })
      expect(baseline.reused).toBe(10)

      await daemons[2]!.stop()

      const results: Record<string, unknown> = { baseline }
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const session = (await nodeHandshake({ ...h2o1, version })).session!
        // Offering a session makes H2O 3 look it up (a miss now); each full handshake stores one.
        const timed = await timeHandshakes(h2o3, { count: 20, version, session })
        const fresh = await timeHandshakes(h2o3, { count: 10, version })
        results[version] = { offered: timed, fresh }
        expect(timed.reused).toBe(0)
        expect(timed.ms.max).toBeLessThan(1000)
        expect(fresh.ms.max).toBeLessThan(1000)
      }
      console.log('H2O handshakes on the instance whose tlsmeshd is stopped (ms)', JSON.stringify(results))

      // H2O 1 and 2 still resume each other's sessions, both ways, through their own daemons.
      for (const [from, to] of [
        [h2o1, h2o2],
        [h2o2, h2o1],
      ] as const) {
        const sessionFile = join(files!.dir, `stopped-${from.name}.session`)
        const start = await waitForReplicas(live)
        expect((await sClient({ ...from, version: 'TLSv1.2', sessOut: sessionFile })).reused).toBe(false)
        await waitForReplicas(live, start + 1)
        expect((await sClient({ ...to, version: 'TLSv1.2', sessIn: sessionFile })).reused).toBe(true)
      }
    })
  })
})
