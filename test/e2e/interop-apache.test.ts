// Three Apache httpd 2.4 instances (Debian's apache2), each with mod_ssl's session cache in memcached
// (mod_socache_memcache) pointed at its own tlsmeshd, over loopback TCP and over the unix socket;
// the three daemons form one mesh. The instances share ServerName and port (mod_ssl's session id
// context), so they listen on three loopback addresses. A session made on one resumes on the others
// (TLS 1.2 session ids and TLS 1.3 stateful tickets: tickets are off), and with one daemon stopped
// its Apache still completes every handshake, promptly.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ApacheServer,
  apacheInstalled,
  createApacheSocketDir,
  startApache,
} from './lib/apache-server.ts'
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
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4']
const isRoot = process.getuid?.() === 0
/** A TLS 1.2 full handshake stores one session; a TLS 1.3 one sends two tickets, each a session. */
const SESSIONS_PER_FULL_HANDSHAKE: Record<TlsVersion, number> = { 'TLSv1.2': 1, 'TLSv1.3': 2 }

type Transport = 'tcp' | 'unix'

async function startApacheFleet(files: InteropFiles, daemons: Tlsmeshd[], transport: Transport) {
  const port = await freePort(HOSTS)
  const servers: ApacheServer[] = []
  try {
    for (const [i, daemon] of daemons.entries()) {
      servers.push(
        await startApache({
          name: `apache-${transport}-${i + 1}`,
          dir: files.dir,
          host: HOSTS[i]!,
          port,
          certFile: files.certFile,
          keyFile: files.keyFile,
          memcache: transport === 'tcp' ? `127.0.0.1:${daemon.memcachePort}` : daemon.memcacheSocket!,
        }),
      )
    }
    return servers
  } catch (err) {
    await stopAll(servers)
    throw err
  }
}

describe.skipIf(!apacheInstalled() && !isRoot)(
  'Apache fleet sharing sessions through tlsmeshd (memcached)',
  () => {
    let files: InteropFiles | undefined
    let daemons: Tlsmeshd[] = []

    beforeAll(async () => {
      files = await createInteropFiles('apache')
      const dir = files.dir
      daemons = await startMeshedTlsmeshd(3, {
        meshKeyFile: files.meshKeyFile,
        realm: REALM,
        memcacheTcp: true,
        memcacheSocket: (i) => join(createApacheSocketDir(join(dir, `tlsmeshd-${i + 1}`)), 'memcache.sock'),
      })
    })

    afterAll(async () => {
      await stopAll(daemons)
      files?.remove()
    })

    describe.each<Transport>(['tcp', 'unix'])('memcached over %s', (transport) => {
      let servers: ApacheServer[] = []

      beforeAll(async () => {
        servers = await startApacheFleet(files!, daemons, transport)
      })

      afterAll(async () => {
        await stopAll(servers)
      })

      it.each<TlsVersion>(['TLSv1.2', 'TLSv1.3'])(
        'a %s session made on Apache 1 resumes on Apache 2 and 3 (openssl s_client)',
        async (version) => {
          const sessionFile = join(files!.dir, `${transport}-${version}.session`)
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

      // Once is enough: the rate does not depend on the transport.
      if (transport === 'tcp') {
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
            console.log(`Apache ${transport} ${version}`, JSON.stringify({ replicated, soon }))
            expect(replicated.resumed).toBe(50)
            expect(soon.ms.max).toBeLessThan(1000)
          },
        )
      }
    })

    describe('with one tlsmeshd stopped', () => {
      let servers: ApacheServer[] = []

      beforeAll(async () => {
        servers = await startApacheFleet(files!, daemons, 'tcp')
      })

      afterAll(async () => {
        await stopAll(servers)
      })

      it('its Apache completes every handshake (full) at once, the other two keep resuming', async () => {
        const [apache1, apache2, apache3] = servers as [ApacheServer, ApacheServer, ApacheServer]
        const live = daemons.slice(0, 2)
        const before = await waitForReplicas(daemons)
        const offered = await nodeHandshake({ ...apache1, version: 'TLSv1.2' })
        await waitForReplicas(daemons, before + 1)
        // Baseline: daemon 3 up, the session resumes on Apache 3.
        const baseline = await timeHandshakes(apache3, {
          count: 10,
          version: 'TLSv1.2',
          session: offered.session!,
        })
        expect(baseline.reused).toBe(10)

        await daemons[2]!.stop()

        const results: Record<string, unknown> = { baseline }
        for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
          const session = (await nodeHandshake({ ...apache1, version })).session!
          // Offering a session makes Apache 3 look it up (a miss now); each full handshake stores one.
          const timed = await timeHandshakes(apache3, { count: 20, version, session })
          const fresh = await timeHandshakes(apache3, { count: 10, version })
          results[version] = { offered: timed, fresh }
          expect(timed.reused).toBe(0)
          expect(timed.ms.max).toBeLessThan(1000)
          expect(fresh.ms.max).toBeLessThan(1000)
        }
        console.log(
          'Apache handshakes on the instance whose tlsmeshd is stopped (ms)',
          JSON.stringify(results),
        )

        // Apache 1 and 2 still resume each other's sessions, both ways, through their own daemons.
        for (const [from, to] of [
          [apache1, apache2],
          [apache2, apache1],
        ] as const) {
          const sessionFile = join(files!.dir, `stopped-${from.name}.session`)
          const start = await waitForReplicas(live)
          expect((await sClient({ ...from, version: 'TLSv1.2', sessOut: sessionFile })).reused).toBe(false)
          await waitForReplicas(live, start + 1)
          expect((await sClient({ ...to, version: 'TLSv1.2', sessIn: sessionFile })).reused).toBe(true)
        }
      })
    })
  },
)
