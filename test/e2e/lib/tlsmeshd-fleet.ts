// tlsmeshd processes for interop tests, started the way an operator starts them: the CLI makes the
// mesh key, the first daemon's multiaddr (from its admin /status) seeds the others, and each serves
// the memcached protocol on a loopback port and/or a unix socket.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { DaemonStatus } from '@tlsmesh/admin-api'
import { freePort, type ManagedProcess, startProcess, waitUntil } from './managed-process.ts'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../../..', import.meta.url))
const TLSMESHD = `${repo}apps/tlsmeshd/bin/tlsmeshd.js`
const TLSMESH = `${repo}apps/tlsmesh/bin/tlsmesh.js`

export interface TlsmeshdInit {
  name: string
  meshKeyFile: string
  realm: string
  seeds?: string[]
  /** Serve memcached on 127.0.0.1, on a free port. */
  memcacheTcp?: boolean
  /** Serve memcached on this unix socket. */
  memcacheSocket?: string
  /** More flags, e.g. ['--log-level', 'trace']. */
  extraArgs?: string[]
  /** How to run tlsmeshd: an installed binary, say. Default: the checkout's, under this Node. */
  command?: string[]
}

export interface Tlsmeshd {
  readonly name: string
  readonly process: ManagedProcess
  readonly adminUrl: string
  /** The memcached endpoint's TCP port, when `memcacheTcp`. */
  readonly memcachePort: number | undefined
  readonly memcacheSocket: string | undefined
  readonly multiaddr: string
  status(): Promise<DaemonStatus>
  /** Records in the replica of the realm. */
  entries(): Promise<number>
  stop(): Promise<void>
}

/** `tlsmesh keygen --out file`, as the README tells an operator; `command` runs another tlsmesh. */
export async function createMeshKey(file: string, command = [process.execPath, TLSMESH]): Promise<void> {
  await run(command[0]!, [...command.slice(1), 'keygen', '--out', file], { timeout: 20_000 })
}

export async function startTlsmeshd(init: TlsmeshdInit): Promise<Tlsmeshd> {
  // A port found free can be taken by another process (a test running beside this one, a dial's
  // ephemeral port) before the daemon binds it: the daemon then exits saying so, and a new start
  // picks new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(init)
    } catch (err) {
      if (attempt === 3 || !(err as Error).message.includes(': address in use')) throw err
    }
  }
}

async function startOnce(init: TlsmeshdInit): Promise<Tlsmeshd> {
  const adminPort = await freePort()
  const memcachePort = init.memcacheTcp === true ? await freePort() : undefined
  const [command, ...commandArgs] = init.command ?? [process.execPath, TLSMESHD]
  const args = [
    ...commandArgs,
    '--mesh-key',
    init.meshKeyFile,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--realm',
    init.realm,
    '--admin',
    `127.0.0.1:${adminPort}`,
    ...(init.seeds ?? []).flatMap((seed) => ['--seed', seed]),
    ...(memcachePort !== undefined ? ['--memcache', `127.0.0.1:${memcachePort}`] : []),
    ...(init.memcacheSocket !== undefined ? ['--memcache-socket', init.memcacheSocket] : []),
    ...(init.extraArgs ?? []),
  ]
  const child = startProcess(init.name, command!, args)
  const adminUrl = `http://127.0.0.1:${adminPort}`
  const status = async (): Promise<DaemonStatus> => {
    const response = await fetch(`${adminUrl}/status`, { signal: AbortSignal.timeout(5000) })
    if (!response.ok) throw new Error(`${init.name}: GET /status: ${response.status}`)
    return (await response.json()) as DaemonStatus
  }
  try {
    // The admin endpoint listens last, after the mesh and the memcached endpoint have started.
    const first = await waitUntil(
      `${init.name}'s admin endpoint`,
      async () => {
        if (child.child.exitCode !== null || child.child.signalCode !== null) {
          throw new Error(`${init.name} exited:\n${child.output().slice(-4000)}`)
        }
        return status().catch(() => undefined)
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    return {
      name: init.name,
      process: child,
      adminUrl,
      memcachePort,
      memcacheSocket: init.memcacheSocket,
      multiaddr: first.listenAddrs[0]!,
      status,
      entries: async () => (await status()).realms[init.realm]?.entries ?? 0,
      stop: () => child.stop(),
    }
  } catch (err) {
    await child.stop()
    throw err
  }
}

/**
 * `count` daemons of one realm: the first alone, the others seeded with its multiaddr only; resolves
 * once every one has all the others as gossip mesh peers of the realm.
 */
export async function startMeshedTlsmeshd(
  count: number,
  init: Omit<TlsmeshdInit, 'name' | 'seeds' | 'memcacheSocket' | 'extraArgs'> & {
    memcacheSocket?: (index: number) => string
    /** More flags for every daemon, or for the one of each index. */
    extraArgs?: string[] | ((index: number) => string[])
  },
): Promise<Tlsmeshd[]> {
  const { extraArgs } = init
  const options = (i: number): TlsmeshdInit => ({
    ...init,
    name: `tlsmeshd-${i + 1}`,
    memcacheSocket: init.memcacheSocket?.(i),
    extraArgs: typeof extraArgs === 'function' ? extraArgs(i) : extraArgs,
  })
  const first = await startTlsmeshd(options(0))
  const nodes: Tlsmeshd[] = [first]
  try {
    const rest = await Promise.allSettled(
      Array.from({ length: count - 1 }, (_, i) =>
        startTlsmeshd({ ...options(i + 1), seeds: [first.multiaddr] }),
      ),
    )
    for (const result of rest) if (result.status === 'fulfilled') nodes.push(result.value)
    const failed = rest.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
    await waitUntil(
      `${count} daemons to mesh in realm ${init.realm}`,
      async () => {
        const statuses = await Promise.all(nodes.map((node) => node.status()))
        return statuses.every((s) => (s.realms[init.realm]?.meshPeers ?? 0) >= count - 1) ? true : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    return nodes
  } catch (err) {
    await Promise.all(nodes.map((node) => node.stop()))
    throw err
  }
}

/**
 * Waits until the daemons given hold the same number of records, at least `minimum`, and resolves
 * with it: every record of the realm reaches every node, so equal counts mean nothing is in flight
 * (the way to know a session stored through one daemon has reached the others, without sleeping).
 */
export function waitForReplicas(nodes: Tlsmeshd[], minimum = 0, timeoutMs = 10_000): Promise<number> {
  let last: number[] = []
  return waitUntil(
    `replicas to converge on >= ${minimum} records`,
    async () => {
      last = await Promise.all(nodes.map((node) => node.entries()))
      return last.every((n) => n === last[0] && n >= minimum) ? last[0] : undefined
    },
    { timeoutMs, intervalMs: 20 },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last seen: ${last.join(', ')})`)
  })
}
