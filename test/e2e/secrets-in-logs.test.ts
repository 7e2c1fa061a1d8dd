// Session values hold master secrets: with a fleet logging at trace level, sessions stored through
// one daemon and read through another, no value appears in any log line (raw, hex or base64), and
// no file under the daemons' directory holds one.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMeshKey, startMeshedTlsmeshd, type Tlsmeshd } from './lib/tlsmeshd-fleet.ts'

const REALM = 'web'

function memcached(port: number, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      const text = Buffer.concat(chunks).toString('latin1')
      if (/(STORED|END|ERROR)\r\n$/.test(text)) socket.end()
    })
    socket.once('close', () => resolve(Buffer.concat(chunks)))
    socket.once('error', reject)
    socket.write(request)
  })
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

describe('secrets stay out of logs and files', () => {
  let dir: string
  let daemons: Tlsmeshd[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-secrets-'))
    const meshKeyFile = join(dir, 'mesh.key')
    await createMeshKey(meshKeyFile)
    daemons = await startMeshedTlsmeshd(3, {
      meshKeyFile,
      realm: REALM,
      memcacheTcp: true,
      extraArgs: ['--log-level', 'trace', '--log-format', 'json'],
    })
  })

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('never writes a session value to a log line or a file', async () => {
    const values = Array.from({ length: 30 }, () => Buffer.from(crypto.getRandomValues(new Uint8Array(48))))
    for (const [i, value] of values.entries()) {
      const reply = await memcached(
        daemons[0]!.memcachePort!,
        Buffer.concat([
          Buffer.from(`set session-${i} 0 300 ${value.length}\r\n`),
          value,
          Buffer.from('\r\n'),
        ]),
      )
      expect(reply.toString()).toBe('STORED\r\n')
    }
    // Read them back through another daemon once replicated: the values did travel.
    const deadline = Date.now() + 15_000
    while ((await daemons[2]!.entries()) < values.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
    }
    const got = await memcached(daemons[2]!.memcachePort!, Buffer.from(`get session-0\r\n`))
    expect(got.includes(values[0]!)).toBe(true)

    const logs = daemons.map((d) => Buffer.from(d.process.output(), 'latin1'))
    expect(logs.every((log) => log.length > 0)).toBe(true)
    const files = filesUnder(dir).map((path) => readFileSync(path))
    for (const value of values) {
      for (const text of [...logs, ...files]) {
        expect(text.includes(value)).toBe(false)
        expect(text.includes(Buffer.from(value.toString('hex')))).toBe(false)
        expect(text.includes(Buffer.from(value.toString('base64')))).toBe(false)
        expect(text.includes(Buffer.from(value.toString('base64url')))).toBe(false)
      }
    }
  })
})
