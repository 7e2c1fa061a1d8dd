// Three Apache httpd 2.4 instances (Debian's apache2), each with mod_ssl's session cache in memcached
// (mod_socache_memcache) pointed at its own tlsmeshd, over loopback TCP and over the unix socket;
// the three daemons form one mesh. The instances share ServerName and port (mod_ssl's session id
// context), so they listen on three loopback addresses. A session made on one resumes on the others
// (TLS 1.2 session ids and TLS 1.3 stateful tickets: tickets are off), and with one daemon stopped
// its Apache still completes every handshake, promptly.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import {
  type ApacheServer,
  apacheInstalled,
  createApacheSocketDir,
  startApache,
} from './lib/apache-server.ts'
import {
  expectResumptionRate,
  expectSessionResumesAcross,
  expectStoppedDaemonCostsOnlyFullHandshakes,
} from './lib/fleet-checks.ts'
import { createInteropFiles, type InteropFiles } from './lib/interop-files.ts'
import { freePort, stopAll } from './lib/managed-process.ts'
import type { TlsVersion } from './lib/tls-clients.ts'
import { startMeshedTlsmeshd, type Tlsmeshd } from './lib/tlsmeshd-fleet.ts'

const REALM = 'www'
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4']
const isRoot = process.getuid?.() === 0

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
          await expectSessionResumesAcross({ servers, daemons, sessionFile, version })
        },
      )

      // Once is enough: the rate does not depend on the transport.
      if (transport === 'tcp') {
        it.each<TlsVersion>(['TLSv1.2', 'TLSv1.3'])(
          '%s: 50 sessions made on random instances resume on another one',
          async (version) => {
            await expectResumptionRate({ label: `Apache ${transport}`, servers, daemons, version })
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
        await expectStoppedDaemonCostsOnlyFullHandshakes({
          label: 'Apache',
          servers: servers as [ApacheServer, ApacheServer, ApacheServer],
          daemons,
          dir: files!.dir,
        })
      })
    })
  },
)
