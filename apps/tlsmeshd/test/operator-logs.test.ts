import { PassThrough } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { type Daemon, startDaemon } from '../src/daemon.ts'
import { createDaemonLogger } from '../src/logger.ts'
import { devOptions } from './test-daemon.ts'

interface Line {
  level: unknown
  time: unknown
  module?: string
  msg: string
  [field: string]: unknown
}

/** The daemon's real JSON logger, writing into an array of parsed lines. */
function capturedLogger() {
  const stream = new PassThrough()
  const lines: Line[] = []
  let partial = ''
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n')
    partial = parts.pop() ?? ''
    for (const part of parts) if (part !== '') lines.push(JSON.parse(part) as Line)
  })
  const logger = createDaemonLogger({ level: 'info', format: 'json', stream, env: {} })
  return { logger, lines }
}

describe('the JSON log lines', () => {
  it('carry the level as a word and the time in ISO 8601, as log shippers expect', async () => {
    const { logger, lines } = capturedLogger()
    const before = Date.now()
    logger.child({ module: 'daemon' }).warn({ realm: 'www' }, 'something to look at')
    logger.info('started')
    await expect.poll(() => lines.length).toBe(2)
    expect(lines[0]).toMatchObject({
      level: 'warn',
      module: 'daemon',
      realm: 'www',
      msg: 'something to look at',
    })
    expect(lines[1]).toMatchObject({ level: 'info', msg: 'started' })
    for (const line of lines) {
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(Date.parse(line.time as string)).toBeGreaterThanOrEqual(before - 1)
    }
  })
})

describe('peer joined / peer lost', () => {
  const daemons: Daemon[] = []
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()))
  })

  it('two real daemons: each logs the other joining, and the survivor logs it lost with the peers left', async () => {
    const a = capturedLogger()
    const b = capturedLogger()
    const first = await startDaemon(devOptions(), a.logger)
    daemons.push(first)
    const seed = first.mesh.status().listenAddrs[0]!
    const second = await startDaemon(devOptions({ seeds: [seed] }), b.logger)
    daemons.push(second)
    const secondId = second.mesh.peerId.toString()
    const firstId = first.mesh.peerId.toString()
    const joined = (lines: Line[], peer: string) =>
      lines.find((l) => l.msg === 'peer joined' && l.peer === peer)
    await expect.poll(() => joined(a.lines, secondId), { timeout: 10_000 }).toBeDefined()
    await expect.poll(() => joined(b.lines, firstId), { timeout: 10_000 }).toBeDefined()
    expect(joined(a.lines, secondId)).toMatchObject({
      level: 'info',
      module: 'mesh',
      address: expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/),
      direction: 'inbound',
      peers: 1,
    })
    expect(joined(b.lines, firstId)).toMatchObject({
      address: expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/),
      direction: 'outbound',
      peers: 1,
    })

    await second.stop()
    daemons.pop()
    const lost = () => a.lines.find((l) => l.msg === 'peer lost' && l.peer === secondId)
    await expect.poll(lost, { timeout: 10_000 }).toBeDefined()
    expect(lost()).toMatchObject({
      level: 'info',
      module: 'mesh',
      address: expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/),
      // Who closed it, or the socket's error code (here EPIPE or ECONNRESET): a bounded word.
      reason: expect.stringMatching(/^(closed-by-peer|closed-locally|[A-Z][A-Z0-9_]+|[A-Za-z]+Error)$/),
      peers: 0,
    })
    // A daemon that stops does not log its own peers as lost.
    expect(b.lines.filter((l) => l.msg === 'peer lost')).toEqual([])
  })
})
