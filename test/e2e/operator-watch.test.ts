// What an operator does with a running fleet, with real processes: three tlsmeshd started from the
// CLI's mesh key, `tlsmesh watch` read off a real 80x24 pseudo-terminal (tmux), /metrics parsed as
// Prometheus text while records flow through the memcached endpoint, SIGHUP with a new log level
// while records flow, and a killed node shown DOWN in the live fleet view.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { DaemonStatus } from '@tlsmesh/admin-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ManagedProcess, startProcess, waitUntil } from './lib/managed-process.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TLSMESHD = join(ROOT, 'apps/tlsmeshd/bin/tlsmeshd.js')
const TLSMESH = join(ROOT, 'apps/tlsmesh/bin/tlsmesh.js')
const TMUX = ['-L', `tlsmesh-e2e-${process.pid}`, '-f', '/dev/null']

interface Node {
  name: string
  process: ManagedProcess
  admin: string
  memcachePort: number
  status(): Promise<DaemonStatus>
  metrics(): Promise<string>
}

async function startNode(name: string, args: string[]): Promise<Node> {
  const child = startProcess(name, process.execPath, [
    TLSMESHD,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--admin',
    '127.0.0.1:0',
    '--memcache',
    '127.0.0.1:0',
    '--realm',
    'www',
    ...args,
  ])
  try {
    // Not a terminal: JSON logs, one object a line, which these patterns read.
    const admin = (await child.waitForOutput(/"admin":"(127\.0\.0\.1:\d+)"/, 30_000))[1]!
    const memcache = await child.waitForOutput(/"transport":"tcp","host":"127\.0\.0\.1","port":(\d+)/)
    const get = async (path: string): Promise<Response> => {
      const res = await fetch(`http://${admin}${path}`, { signal: AbortSignal.timeout(5000) })
      if (!res.ok) throw new Error(`${name}: GET ${path}: ${res.status}`)
      return res
    }
    return {
      name,
      process: child,
      admin,
      memcachePort: Number(memcache[1]),
      status: async () => (await (await get('/status')).json()) as DaemonStatus,
      metrics: async () => (await get('/metrics')).text(),
    }
  } catch (err) {
    await child.stop()
    throw err
  }
}

async function tmux(...args: string[]): Promise<string> {
  return (await run('tmux', [...TMUX, ...args], { timeout: 10_000 })).stdout
}

/** Runs `command` in a detached 80x24 tmux window; the pane stays after it exits, showing EXIT=<code>. */
async function inTerminal(session: string, command: string): Promise<void> {
  const shell = `cd '${ROOT}' && ${command}; echo "EXIT=$?"; sleep 300`
  await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', shell)
}

const screen = (session: string): Promise<string> => tmux('capture-pane', '-p', '-t', session)

/** A memcached text-protocol connection: commands written as they come, replies read back in order. */
class MemcacheClient {
  readonly #socket: Socket
  #buffer = ''
  readonly #waiting: Array<{ end: RegExp; resolve: (reply: string) => void }> = []

  constructor(port: number) {
    this.#socket = connect(port, '127.0.0.1')
    this.#socket.setEncoding('latin1')
    this.#socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      for (;;) {
        const next = this.#waiting[0]
        const match = next !== undefined ? next.end.exec(this.#buffer) : null
        if (next === undefined || match === null) break
        const reply = this.#buffer.slice(0, match.index + match[0].length)
        this.#buffer = this.#buffer.slice(reply.length)
        this.#waiting.shift()
        next.resolve(reply)
      }
    })
  }

  #send(text: string, end: RegExp): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting.push({ end, resolve })
      this.#socket.write(text)
    })
  }

  set(key: string, value: string): Promise<string> {
    return this.#send(
      `set ${key} 0 300 ${Buffer.byteLength(value)}\r\n${value}\r\n`,
      /^(STORED|[A-Z_ ]*ERROR.*)\r\n/,
    )
  }

  get(key: string): Promise<string> {
    return this.#send(`get ${key}\r\n`, /END\r\n/)
  }

  close(): void {
    this.#socket.destroy()
  }
}

interface Family {
  type: string
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly enough to catch what a scraper
 * refuses: a sample line that does not parse, a value that is not a number, a family typed twice,
 * a sample of a family of another type, labels that are not name="value".
 */
function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ['', '_total', '_bucket', '_sum', '_count', '_created']) {
      if (suffix !== '' && !sample.endsWith(suffix)) continue
      const family = families.get(sample.slice(0, sample.length - suffix.length))
      if (family !== undefined) return family
    }
    return undefined
  }
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      if (families.has(type[1]!)) throw new Error(`line ${i + 1}: ${type[1]} typed twice`)
      families.set(type[1]!, { type: type[2]!, samples: [] })
      continue
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line) || /^# /.test(line)) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line)
    if (sample === null) throw new Error(`line ${i + 1} does not parse: ${line}`)
    const labels: Record<string, string> = {}
    const labelText = sample[3] ?? ''
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy
    let consumed = 0
    for (let m = labelRe.exec(labelText); m !== null; m = labelRe.exec(labelText)) {
      labels[m[1]!] = m[2]!
      consumed = labelRe.lastIndex
      if (consumed === labelText.length) break
    }
    if (consumed !== labelText.length) throw new Error(`line ${i + 1}: bad labels: ${labelText}`)
    const value = Number(
      sample[4] === '+Inf' ? Number.POSITIVE_INFINITY : sample[4] === '-Inf' ? -Infinity : sample[4],
    )
    if (Number.isNaN(value) && sample[4] !== 'NaN') throw new Error(`line ${i + 1}: value ${sample[4]}`)
    const family = familyOf(sample[1]!)
    if (family === undefined) throw new Error(`line ${i + 1}: ${sample[1]} has no # TYPE`)
    family.samples.push({ name: sample[1]!, labels, value })
  }
  return families
}

function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name.replace(/_total$/, '')) ?? families.get(name)
  if (family === undefined) throw new Error(`no metric ${name}`)
  return family.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)
}

/** The row of the fleet view for `admin`, split into its columns. */
function fleetRow(text: string, admin: string): string[] | undefined {
  return text
    .split('\n')
    .find((line) => line.startsWith(admin))
    ?.trim()
    .split(/\s+/)
}

let dir: string
let nodes: Node[] = []
let configFile: string

beforeAll(async () => {
  await run('tmux', ['-V']).catch(() => {
    throw new Error('these tests drive a real terminal through tmux: install it (bash scripts/setup.sh does)')
  })
  dir = mkdtempSync(join(tmpdir(), 'tlsmesh-operator-'))
  const meshKey = join(dir, 'mesh.key')
  await run(process.execPath, [TLSMESH, 'keygen', '--out', meshKey], { timeout: 20_000 })
  configFile = join(dir, 'tlsmeshd-3.yaml')
  writeFileSync(configFile, 'log-level: info\n')
  const first = await startNode('tlsmeshd-1', ['--mesh-key', meshKey])
  nodes = [first]
  const seed = (await first.status()).listenAddrs[0]!
  const rest = await Promise.all([
    startNode('tlsmeshd-2', ['--mesh-key', meshKey, '--seed', seed]),
    startNode('tlsmeshd-3', ['--config', configFile, '--mesh-key', meshKey, '--seed', seed]),
  ])
  nodes.push(...rest)
  await waitUntil(
    'three daemons, each with the two others as peers and gossip mesh peers',
    async () => {
      const statuses = await Promise.all(nodes.map((n) => n.status()))
      return statuses.every(
        (s) => s.connectedPeers === 2 && s.realms.www?.meshPeers === 2 && s.readiness.ready,
      )
        ? true
        : undefined
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
})

afterAll(async () => {
  await run('tmux', [...TMUX, 'kill-server']).catch(() => {})
  await Promise.all(nodes.map((n) => n.process.stop()))
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe('tlsmesh watch on a 3-node fleet, in a real terminal', () => {
  it('--once shows 3 nodes, each UP with 2 peers and 2 mesh peers, and the publishing node sending', async () => {
    // Records flow through node 1's memcached endpoint while watch samples twice, a second apart.
    const client = new MemcacheClient(nodes[0]!.memcachePort)
    let i = 0
    const publisher = setInterval(() => {
      if (i < 400) void client.set(`watch-${i++}`, 'x'.repeat(100))
    }, 10)
    try {
      const admins = nodes.map((n) => `--admin ${n.admin}`).join(' ')
      await inTerminal('once', `node '${TLSMESH}' watch --once ${admins}`)
      const text = await waitUntil(
        'watch --once to finish',
        async () => {
          const shown = await screen('once')
          return shown.includes('EXIT=') ? shown : undefined
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      )
      expect(text).toContain('EXIT=0')
      expect(text).toContain('3 nodes, 3 up')
      for (const line of text.split('\n')) expect([...line].length).toBeLessThanOrEqual(80)
      for (const node of nodes) {
        const row = fleetRow(text, node.admin)
        expect(row, `${node.name} row in:\n${text}`).toBeDefined()
        // NODE STATE UP PEERS MESH IN/s OUT/s RECORDS HIT% P99ms SYNC
        expect(row?.[1]).toBe('UP')
        expect(row?.[3]).toBe('2')
        expect(row?.[4]).toBe('2')
      }
      expect(Number(fleetRow(text, nodes[0]!.admin)?.[6])).toBeGreaterThan(0)
      expect(Number(fleetRow(text, nodes[1]!.admin)?.[5])).toBeGreaterThan(0)
    } finally {
      clearInterval(publisher)
      client.close()
    }
  })
})

describe('/metrics while sessions are published and resumed', () => {
  it('parses as Prometheus text, with tlsmesh_ counters ending in _total, and the counters move', async () => {
    const [one, two] = nodes as [Node, Node]
    const before1 = parsePrometheus(await one.metrics())
    const before2 = parsePrometheus(await two.metrics())
    for (const [name, family] of before1) {
      if (name.startsWith('tlsmesh_') && family.type === 'counter') {
        expect(
          family.samples.every((s) => s.name.endsWith('_total')),
          name,
        ).toBe(true)
      }
    }
    expect([...before1.keys()].some((name) => name.startsWith('libp2p_'))).toBe(true)

    const writer = new MemcacheClient(one.memcachePort)
    const reader = new MemcacheClient(two.memcachePort)
    try {
      for (let i = 0; i < 20; i++) expect(await writer.set(`metrics-${i}`, `session-${i}`)).toBe('STORED\r\n')
      // Resumed on another node: the record travelled, and node 2's endpoint counts a hit.
      const hit = await waitUntil('the session to reach node 2', async () => {
        const reply = await reader.get('metrics-19')
        return reply.startsWith('VALUE') ? reply : undefined
      })
      expect(hit).toContain('session-19')
    } finally {
      writer.close()
      reader.close()
    }
    const after1 = parsePrometheus(await one.metrics())
    const after2 = parsePrometheus(await two.metrics())
    expect(total(after1, 'tlsmesh_mesh_records_published_total')).toBeGreaterThanOrEqual(
      total(before1, 'tlsmesh_mesh_records_published_total') + 20,
    )
    expect(total(after1, 'tlsmesh_memcache_commands_total', { command: 'set' })).toBeGreaterThanOrEqual(
      total(before1, 'tlsmesh_memcache_commands_total', { command: 'set' }) + 20,
    )
    expect(total(after2, 'tlsmesh_mesh_records_received_total')).toBeGreaterThanOrEqual(
      total(before2, 'tlsmesh_mesh_records_received_total') + 20,
    )
    expect(total(after2, 'tlsmesh_memcache_hits_total')).toBeGreaterThan(
      total(before2, 'tlsmesh_memcache_hits_total'),
    )
    expect(total(after2, 'tlsmesh_realm_mesh_peers', { realm: 'www' })).toBe(2)
  })
})

describe('SIGHUP', () => {
  it('applies a new log level from the config file without dropping a record', async () => {
    const [one, , three] = nodes as [Node, Node, Node]
    expect((await three.status()).logLevel).toBe('info')
    const before = (await three.status()).realms.www?.entries ?? 0
    const client = new MemcacheClient(one.memcachePort)
    const sent: Array<Promise<string>> = []
    try {
      for (let i = 0; i < 100; i++) sent.push(client.set(`hup-${i}`, `v${i}`))
      writeFileSync(configFile, 'log-level: debug\n')
      three.process.signal('SIGHUP')
      for (let i = 100; i < 200; i++) sent.push(client.set(`hup-${i}`, `v${i}`))
      expect(new Set(await Promise.all(sent))).toEqual(new Set(['STORED\r\n']))
    } finally {
      client.close()
    }
    await three.process.waitForOutput(
      /"logLevel":\{"from":"info","to":"debug"\}.*"msg":"reload: configuration re-read"/,
    )
    expect((await three.status()).logLevel).toBe('debug')
    const entries = await waitUntil('all 200 records on node 3', async () => {
      const n = (await three.status()).realms.www?.entries ?? 0
      return n >= before + 200 ? n : undefined
    })
    expect(entries).toBe(before + 200)
    expect((await three.status()).connectedPeers).toBe(2)
  })
})

describe('tlsmesh watch, live fleet view', () => {
  it('shows a killed node as DOWN within a few seconds, and quits on q', async () => {
    const admins = nodes.map((n) => `--admin ${n.admin}`).join(' ')
    await inTerminal('live', `NO_COLOR=1 node '${TLSMESH}' watch --interval 500 ${admins}`)
    await waitUntil(
      'the live view to show 3 nodes up',
      async () => ((await screen('live')).includes('3 nodes, 3 up') ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100 },
    )
    const victim = nodes[1]!
    victim.process.signal('SIGKILL')
    const killedAt = Date.now()
    const shown = await waitUntil(
      'the killed node to show DOWN',
      async () => {
        const text = await screen('live')
        return fleetRow(text, victim.admin)?.[1] === 'DOWN' ? text : undefined
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    expect(Date.now() - killedAt).toBeLessThan(5000)
    expect(shown).toContain('3 nodes, 2 up')
    expect(shown).toContain(`${victim.admin}: daemon unreachable`)
    expect(fleetRow(shown, nodes[0]!.admin)?.[1]).toBe('UP')
    await tmux('send-keys', '-t', 'live', 'q')
    const after = await waitUntil('watch to quit on q', async () => {
      const text = await screen('live')
      return text.includes('EXIT=') ? text : undefined
    })
    expect(after).toContain('EXIT=0')
  })
})
