// Real server processes for interop tests (tlsmeshd, H2O, Apache, Node): each in its own process
// group, so that helpers they fork (H2O's neverbleed key process, cluster workers) go with them;
// output kept in memory for failure messages; every group killed when the test process exits,
// whatever way it exits.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'

const MAX_OUTPUT_CHARS = 256 * 1024
const live = new Set<ManagedProcess>()
const cleanups = new Set<() => void>()
const killAll = (): void => {
  for (const managed of live) managed.signal('SIGKILL')
  for (const cleanup of cleanups) cleanup()
}
process.once('exit', killAll)
// Detached groups do not get the terminal's Ctrl-C: pass it on, then let the signal do its work.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll()
    process.kill(process.pid, signal)
  })
}

/**
 * Runs `cleanup` (synchronous: temp dirs) if the test process exits or is interrupted before it is
 * done; the returned function runs it now and unregisters it.
 */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup)
  return () => {
    cleanups.delete(cleanup)
    cleanup()
  }
}

export interface ManagedProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<void>
  /** stdout and stderr interleaved, the last 256 KiB, then the log files given at start. */
  output(): string
  /** Resolves with the first match of `pattern` in the output; rejects on timeout or exit. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Sends `signal` to the whole process group. */
  signal(signal: NodeJS.Signals): void
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  stop(graceMs?: number): Promise<void>
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFiles?: string[] } = {},
): ManagedProcess {
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  })
  let output = ''
  let exitedFlag = false
  const waiters = new Set<() => void>()
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    if (output.length > MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS)
    for (const wake of waiters) wake()
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedFlag = true
      resolve()
    })
    child.once('error', (err) => {
      append(Buffer.from(`\n[spawn error] ${err.message}\n`))
      exitedFlag = true
      resolve()
    })
  }).then(() => {
    live.delete(managed)
    for (const wake of waiters) wake()
  })

  const managed: ManagedProcess = {
    name,
    child,
    exited,
    output: () => output + (options.logFiles ?? []).map(readLogFile).join(''),
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = output.match(pattern)
          if (match !== null) {
            finish(() => resolve(match))
          } else if (exitedFlag) {
            finish(() => reject(new Error(`${name} exited before printing ${pattern}:\n${tail(output)}`)))
          }
        }
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms:\n${tail(output)}`)),
            ),
          timeoutMs,
        )
        const finish = (settle: () => void): void => {
          clearTimeout(timer)
          waiters.delete(check)
          settle()
        }
        waiters.add(check)
        check()
      })
    },
    signal(signal) {
      if (exitedFlag || child.pid === undefined) return
      try {
        process.kill(-child.pid, signal)
      } catch {
        // The group is gone already.
      }
    },
    async stop(graceMs = 3000) {
      if (exitedFlag) return
      managed.signal('SIGTERM')
      const timer = setTimeout(() => managed.signal('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      // Whatever the leader left behind in its group.
      managed.signal('SIGKILL')
    },
  }
  live.add(managed)
  return managed
}

function readLogFile(file: string): string {
  try {
    return `\n--- ${file}\n${readFileSync(file, 'utf8').slice(-MAX_OUTPUT_CHARS)}`
  } catch {
    return ''
  }
}

function tail(text: string): string {
  return text.slice(-4000)
}

/** Stops every process given, in parallel, ignoring those never started. */
export async function stopAll(processes: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(processes.map((p) => p?.stop()))
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50))
  }
}

/** Resolves once something accepts TCP connections on host:port. */
export function waitForPort(host: string, port: number, owner: ManagedProcess, timeoutMs = 15_000) {
  return waitUntil(
    `${owner.name} to accept connections on ${host}:${port}`,
    async () => {
      if (owner.child.exitCode !== null || owner.child.signalCode !== null) {
        throw new Error(`${owner.name} exited:\n${tail(owner.output())}`)
      }
      return (await canConnect(host, port)) ? true : undefined
    },
    { timeoutMs, intervalMs: 50 },
  )
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Ports `freePort` handed out, never handed out again by this process. */
const handedOut = new Set<number>()

/**
 * The ports `freePort` draws from: below the kernel's ephemeral range, which it takes ports from
 * for every listener on port 0 (libp2p's) and every outbound connection. A port drawn from inside
 * that range could be taken by one of the test's own daemons between the draw and the server's
 * bind; one below it only by another process that names it.
 */
const drawRange = ((): { low: number; high: number } | undefined => {
  const low = 10_000
  try {
    const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
    return ephemeralLow !== undefined && ephemeralLow - low >= 1_000 ? { low, high: ephemeralLow } : undefined
  } catch {
    return undefined
  }
})()

/**
 * A TCP port free on every host given (Apache instances on 127.0.0.2, .3 and .4 share one port),
 * not handed out before by this process, and outside the kernel's ephemeral range where it can
 * (`drawRange`), so that no listener on port 0 takes it before the server binds.
 */
export async function freePort(hosts: string[] = ['127.0.0.1']): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const drawn = drawRange && drawRange.low + Math.floor(Math.random() * (drawRange.high - drawRange.low))
    const port = await bindAndRelease(hosts[0]!, drawn ?? 0)
    if (port === undefined || handedOut.has(port)) continue
    let free = true
    for (const host of hosts.slice(1)) {
      if ((await bindAndRelease(host, port)) !== port) free = false
    }
    if (free) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`)
}

function bindAndRelease(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : undefined
      server.close(() => resolve(bound))
    })
  })
}
