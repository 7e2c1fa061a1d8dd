// Three H2O 2.2 instances (Debian's h2o), each with its TLS session cache in memcached pointed at its
// own tlsmeshd on loopback; the three daemons form one mesh. A session made on one instance resumes
// on the others (memcached binary and text protocols, TLS 1.2 session ids and TLS 1.3 stateful
// tickets), and with one daemon stopped its H2O still completes every handshake, promptly.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import {
  expectResumptionRate,
  expectSessionResumesAcross,
  expectStoppedDaemonCostsOnlyFullHandshakes,
} from './lib/fleet-checks.ts'
import { type H2oMemcachedProtocol, type H2oServer, h2oInstalled, startH2o } from './lib/h2o-server.ts'
import { createInteropFiles, type InteropFiles } from './lib/interop-files.ts'
import { freePort, stopAll } from './lib/managed-process.ts'
import type { TlsVersion } from './lib/tls-clients.ts'
import { startMeshedTlsmeshd, type Tlsmeshd } from './lib/tlsmeshd-fleet.ts'

const REALM = 'www'
const isRoot = process.getuid?.() === 0

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
        await expectSessionResumesAcross({ servers, daemons, sessionFile, version })
      },
    )

    // Once is enough: the rate does not depend on the memcached protocol.
    if (protocol === 'BINARY') {
      it.each<TlsVersion>(['TLSv1.2', 'TLSv1.3'])(
        '%s: 50 sessions made on random instances resume on another one',
        async (version) => {
          await expectResumptionRate({ label: `H2O ${protocol}`, servers, daemons, version })
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
      await expectStoppedDaemonCostsOnlyFullHandshakes({
        label: 'H2O',
        servers: servers as [H2oServer, H2oServer, H2oServer],
        daemons,
        dir: files!.dir,
      })
    })
  })
})
