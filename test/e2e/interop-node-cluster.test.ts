// Two Node.js HTTPS servers with two cluster workers each (examples/node-cluster-https-server.ts),
// every worker asking its local tlsmeshd over the memcached unix socket; the two daemons form a mesh.
// A session made on server 1 resumes on server 2 and on both workers of server 1; with its daemon
// frozen or killed, server 1 still completes every handshake, as a full one, promptly.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterServerEnv } from '../../examples/node-cluster-https-server.ts'
import { createInteropFiles, type InteropFiles } from './lib/interop-files.ts'
import { type ManagedProcess, startProcess, stopAll } from './lib/managed-process.ts'
import { nodeHandshake, timeHandshakes } from './lib/tls-clients.ts'
import { startMeshedTlsmeshd, type Tlsmeshd, waitForReplicas } from './lib/tlsmeshd-fleet.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/node-cluster-https-server.ts', import.meta.url))
const REALM = 'www'
const WORKERS = 2

interface ClusterServer {
  host: string
  port: number
  process: ManagedProcess
  stop(): Promise<void>
}

async function startClusterServer(
  name: string,
  files: InteropFiles,
  socketPath: string,
): Promise<ClusterServer> {
  const env: ClusterServerEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    TLS_CERT: files.certFile,
    TLS_KEY: files.keyFile,
    TLSMESH_SOCKET: socketPath,
    WORKERS: String(WORKERS),
    SESSION_ID_CONTEXT: 'www',
  }
  const child = startProcess(name, process.execPath, ['--import', 'tsx', EXAMPLE], {
    env: { ...process.env, ...env },
  })
  try {
    const ready = await child.waitForOutput(/\{"listening":(\d+),"workers":2\}/, 30_000)
    return { host: '127.0.0.1', port: Number(ready[1]), process: child, stop: () => child.stop() }
  } catch (err) {
    await child.stop()
    throw err
  }
}

describe('Node.js cluster servers sharing sessions through tlsmeshd (unix socket)', () => {
  let files: InteropFiles | undefined
  let daemons: Tlsmeshd[] = []
  let servers: ClusterServer[] = []

  beforeAll(async () => {
    files = await createInteropFiles('node-cluster')
    const dir = files.dir
    daemons = await startMeshedTlsmeshd(2, {
      meshKeyFile: files.meshKeyFile,
      realm: REALM,
      memcacheSocket: (i) => join(dir, `memcache-${i + 1}.sock`),
    })
    servers = await Promise.all(
      daemons.map((daemon, i) => startClusterServer(`node-cluster-${i + 1}`, files!, daemon.memcacheSocket!)),
    )
  })

  afterAll(async () => {
    // SIGCONT first: a daemon left frozen by a failed test would not stop on SIGTERM.
    for (const daemon of daemons) daemon.process.signal('SIGCONT')
    await stopAll([...servers, ...daemons])
    files?.remove()
  })

  it('a session made on server 1 resumes on server 2 and on every worker of server 1', async () => {
    const [server1, server2] = servers as [ClusterServer, ClusterServer]
    const before = await waitForReplicas(daemons)
    const made = await nodeHandshake({ ...server1, version: 'TLSv1.2' })
    expect(made.reused).toBe(false)
    await waitForReplicas(daemons, before + 1)
    for (const server of [server1, server2]) {
      // The cluster hands connections to its workers in turn: four requests reach both.
      const workers = new Set<string>()
      for (let i = 0; i < 4; i++) {
        const resumed = await nodeHandshake({
          ...server,
          version: 'TLSv1.2',
          session: made.session!,
          httpGet: true,
        })
        expect(resumed.reused).toBe(true)
        workers.add(resumed.response?.match(/hello from worker (\d+)/)?.[1] ?? 'no answer')
      }
      expect(workers.size, [...workers].join(', ')).toBe(WORKERS)
    }
  })

  it('with its tlsmeshd frozen (SIGSTOP), server 1 waits no longer than its lookup deadline', async () => {
    const [server1, server2] = servers as [ClusterServer, ClusterServer]
    const offered = await nodeHandshake({ ...server2, version: 'TLSv1.2' })
    daemons[0]!.process.signal('SIGSTOP')
    try {
      const frozen = await timeHandshakes(server1, {
        count: 10,
        version: 'TLSv1.2',
        session: offered.session!,
      })
      console.log('Node cluster, daemon 1 frozen: full handshakes (ms)', JSON.stringify(frozen))
      expect(frozen.reused).toBe(0)
      // 50 ms deadline plus a full handshake.
      expect(frozen.ms.max).toBeLessThan(500)
    } finally {
      daemons[0]!.process.signal('SIGCONT')
    }
  })

  it('with its tlsmeshd killed (SIGKILL), server 1 completes every handshake at once; server 2 resumes', async () => {
    const [server1, server2] = servers as [ClusterServer, ClusterServer]
    const offered = await nodeHandshake({ ...server2, version: 'TLSv1.2' })
    daemons[0]!.process.signal('SIGKILL')
    await daemons[0]!.process.exited
    const offering = await timeHandshakes(server1, {
      count: 20,
      version: 'TLSv1.2',
      session: offered.session!,
    })
    const fresh = await timeHandshakes(server1, { count: 10, version: 'TLSv1.2' })
    console.log('Node cluster, daemon 1 killed: full handshakes (ms)', JSON.stringify({ offering, fresh }))
    expect(offering.reused).toBe(0)
    expect(offering.ms.max).toBeLessThan(500)
    expect(fresh.ms.max).toBeLessThan(500)

    // Server 2 and its daemon carry on: its own sessions resume on both its workers.
    const daemon2 = daemons[1]!
    const before = await daemon2.entries()
    const own = await nodeHandshake({ ...server2, version: 'TLSv1.2' })
    await waitForReplicas([daemon2], before + 1)
    expect(
      (await timeHandshakes(server2, { count: 4, version: 'TLSv1.2', session: own.session! })).reused,
    ).toBe(4)
  })
})
