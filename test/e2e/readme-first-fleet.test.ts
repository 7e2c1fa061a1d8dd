// The README's "A first fleet" block, run as a new user runs it: extracted from README.md between
// its marker comments and given to bash unchanged, from the checkout, with only what the block itself
// reads from the environment (DEMO_DIR, a temporary directory; PORT_BASE, free ports). Then the
// three nodes must see each other and share a record written through memcached, and the README's
// stop block must stop every one of them. Whatever happens, every process the block started is
// killed (its process group) before the test ends, so the docs cannot rot and a failure leaves
// nothing running.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { type ManagedProcess, onInterrupt, startProcess, waitUntil } from './lib/managed-process.ts'
import { memcachedCommand } from './lib/memcached-text.ts'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const NODES = 3
/** Ports the block uses above PORT_BASE: node N listens on +10(N-1), admin +1, memcached +2. */
const PORT_OFFSETS = [0, 1, 2, 10, 11, 12, 20, 21, 22]

/** The body of the ```sh fence between `<!-- NAME:begin -->` and `<!-- NAME:end -->`. */
function readmeBlock(readme: string, name: string): string {
  const section = new RegExp(`<!-- ${name}:begin -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`)
  const match = section.exec(readme)
  if (match === null) throw new Error(`README.md has no \`\`\`sh block marked ${name}`)
  return match[1]!
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** A PORT_BASE whose every port the block uses is free now (the block binds them within seconds). */
async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000)
    const free = await Promise.all(PORT_OFFSETS.map((offset) => portFree(base + offset)))
    if (free.every(Boolean)) return base
  }
  throw new Error('no free range of ports for PORT_BASE')
}

const memcached = memcachedCommand

async function adminJson<T>(port: number, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) })
  return (await response.json()) as T
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Runs a README block with bash -e (every command must succeed), bounded by `timeoutMs`. */
async function runBlock(
  name: string,
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ process: ManagedProcess; code: number | null }> {
  const shell = startProcess(name, 'bash', ['-e', '-c', script], { cwd: options.cwd, env: options.env })
  const timer = setTimeout(() => shell.signal('SIGKILL'), options.timeoutMs)
  await shell.exited
  clearTimeout(timer)
  return { process: shell, code: shell.child.exitCode }
}

describe('README: A first fleet', () => {
  const demoDir = mkdtempSync(join(tmpdir(), 'tlsmesh-first-fleet-'))
  const daemonPids = (): number[] => {
    const pids: number[] = []
    for (let n = 1; n <= NODES; n++) {
      try {
        pids.push(Number(readFileSync(join(demoDir, `node${n}.pid`), 'utf8').trim()))
      } catch {
        // Not started: the block stopped before it.
      }
    }
    return pids.filter((pid) => Number.isInteger(pid) && pid > 0)
  }
  const groups: number[] = []
  // The daemons stay in the group of the bash that started them after it exits: kill the group and
  // each pid the block recorded, on any way out.
  const killEverything = (): void => {
    for (const target of [...groups.map((pgid) => -pgid), ...daemonPids()]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
  }
  const cleanUp = onInterrupt(() => {
    killEverything()
    rmSync(demoDir, { recursive: true, force: true })
  })
  afterAll(() => cleanUp())

  it('runs as written: three nodes, 2 peers each, a record written on node 1 is read on the others, and the stop block stops them', async () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8')
    const block = readmeBlock(readme, 'first-fleet')
    const stopBlock = readmeBlock(readme, 'first-fleet-stop')
    const portBase = await freePortBase()
    // The user's environment, without settings of ours that a shell of theirs would not have.
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_DIR: demoDir, PORT_BASE: String(portBase) }
    for (const key of Object.keys(env)) if (key.startsWith('TLSMESH_')) delete env[key]

    const run = await runBlock('first-fleet block', block, { cwd: repo, env, timeoutMs: 120_000 })
    if (run.process.child.pid !== undefined) groups.push(run.process.child.pid)
    const output = run.process.output()
    expect(run.code, output).toBe(0)

    // 1. The three peer ids printed by keygen --identity, and node 1's status naming its own.
    const printedIds = output.match(/^12D3KooW\w+$/gm) ?? []
    expect(printedIds, output).toHaveLength(NODES)
    const adminPorts = [1, 11, 21].map((offset) => portBase + offset)
    const memcachePorts = [2, 12, 22].map((offset) => portBase + offset)
    const statuses = await Promise.all(
      adminPorts.map((port) => adminJson<{ peerId: string }>(port, '/status')),
    )
    expect(statuses.map((s) => s.peerId)).toEqual(printedIds)
    expect(output).toMatch(new RegExp(`^node +${printedIds[0]}$`, 'm'))
    // 3-5: stored on node 1, the watch frame shows all three up, and node 3 read the record.
    expect(output).toMatch(/^STORED\r?$/m)
    expect(output).toMatch(/3 nodes, 3 up/)
    expect(output).toMatch(/VALUE greeting 0 5\r\nhello\r\nEND/)

    // Every node connected to both others (node 2 and node 3 meet through peer exchange).
    await waitUntil(
      'every node to have 2 peers',
      async () => {
        const now = await Promise.all(
          adminPorts.map((port) => adminJson<{ connectedPeers: number }>(port, '/status')),
        )
        return now.every((s) => s.connectedPeers === NODES - 1) ? true : undefined
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    )
    // The CLI says so too: `status` of each node, as the block runs it.
    for (const port of adminPorts) {
      const status = await runBlock(
        `status ${port}`,
        `node apps/tlsmesh/bin/tlsmesh.js status --admin 127.0.0.1:${port}`,
        { cwd: repo, env, timeoutMs: 20_000 },
      )
      expect(status.code, status.process.output()).toBe(0)
      expect(status.process.output()).toMatch(/^peers +2 connected$/m)
    }

    // A record written through node 2's memcached endpoint is read on nodes 1 and 3.
    const value = 'first-fleet-session'
    expect(
      await memcached(memcachePorts[1]!, `set from-node-2 0 300 ${value.length}\r\n${value}\r\n`, /\r\n$/),
    ).toBe('STORED\r\n')
    for (const port of [memcachePorts[0]!, memcachePorts[2]!]) {
      await waitUntil(
        `the record on the node with memcached port ${port}`,
        async () => {
          const reply = await memcached(port, 'get from-node-2\r\n', /END\r\n$/)
          return reply.includes(value) ? reply : undefined
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      )
    }

    // The stop block, from the demo directory as the README says: every node exits on SIGTERM.
    const pids = daemonPids()
    expect(pids).toHaveLength(NODES)
    const stop = await runBlock('first-fleet stop block', stopBlock, { cwd: demoDir, env, timeoutMs: 20_000 })
    expect(stop.code, stop.process.output()).toBe(0)
    await waitUntil('every node to exit', () => (pids.some(isAlive) ? undefined : true), {
      timeoutMs: 15_000,
      intervalMs: 100,
    })
    for (let n = 1; n <= NODES; n++) {
      expect(readFileSync(join(demoDir, `node${n}.log`), 'utf8')).toMatch(/"msg":"mesh stopped"/)
    }
  }, 180_000)
})
