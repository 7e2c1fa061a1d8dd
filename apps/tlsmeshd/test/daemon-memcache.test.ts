import { spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type Daemon, startDaemon } from '../src/daemon.ts'
import { type DaemonOptions, InvalidOptionError } from '../src/daemon-options.ts'
import { devOptions, silentLogger } from './test-daemon.ts'

let daemon: Daemon | undefined
afterEach(async () => {
  await daemon?.stop()
  daemon = undefined
})

function withMemcacheUsers(allowUsers: string[]): DaemonOptions {
  return devOptions({ memcache: { tcp: { host: '127.0.0.1', port: 0 }, realm: 'default', allowUsers } })
}

/** What the endpoint answers to `version` before it closes the connection (or 2 s pass). */
function versionReply(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (text.endsWith('\r\n')) socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve(text))
    socket.write('version\r\n')
    setTimeout(() => socket.destroy(), 2000).unref()
  })
}

async function refusedMetric(d: Daemon): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${d.adminAddress.port}/metrics`)
  const text = await res.text()
  return text
    .split('\n')
    .find((line) =>
      line.startsWith('tlsmesh_memcache_connections_refused_total{listener="tcp",reason="user-not-allowed"}'),
    )
}

const hasNobody = spawnSync('getent', ['passwd', 'nobody']).status === 0

describe('startDaemon: --memcache-allow-user', () => {
  it('refuses a name that is not a user of this host, naming the flag, before anything starts', async () => {
    const err = await startDaemon(withMemcacheUsers(['no-such-user-tlsmesh']), silentLogger).then(
      (started) => {
        daemon = started
        return undefined
      },
      (e: Error) => e,
    )
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect(err?.message).toBe('--memcache-allow-user: no user "no-such-user-tlsmesh" on this system')
  })

  it.runIf(process.platform === 'linux')('serves the users named on the TCP port', async () => {
    daemon = await startDaemon(withMemcacheUsers(['root']), silentLogger)
    const tcp = daemon.memcache?.addresses().find((address) => address.transport === 'tcp')
    expect(await versionReply(tcp?.transport === 'tcp' ? tcp.port : 0)).toMatch(/^VERSION tlsmesh-/)
  })

  it.runIf(process.platform === 'linux' && process.getuid?.() === 0 && hasNobody)(
    'closes a connection of any other user (here root, with only nobody allowed) and counts it',
    async () => {
      daemon = await startDaemon(withMemcacheUsers(['nobody']), silentLogger)
      const tcp = daemon.memcache?.addresses().find((address) => address.transport === 'tcp')
      expect(await versionReply(tcp?.transport === 'tcp' ? tcp.port : 0)).toBe('')
      expect(await refusedMetric(daemon)).toMatch(/ 1$/)
    },
  )
})
