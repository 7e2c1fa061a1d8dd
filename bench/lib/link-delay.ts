// Network distance between the hosts of a NetnsLab: every packet a host sends to another host
// leaves `oneWayMs` late, so a round trip between two hosts takes twice that. With netem on each
// host's link where the kernel has it; else with the userspace delay line (delay-line.c, built here
// with cc), since kernels built without CONFIG_NET_SCH_NETEM exist (the machine of BENCHMARKS.md).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitUntil } from '../../test/e2e/lib/managed-process.ts'
import type { LabHost } from '../../test/e2e/lib/netns.ts'

const DELAY_LINE_SOURCE = fileURLToPath(new URL('./delay-line.c', import.meta.url))
/** The raw socket's mark in delay-line.c: its packets skip the route into the delay line. */
const DELAY_LINE_MARK = '0x7d1'
const DELAY_LINE_TABLE = '100'

/** The delay line's account: packets dropped (queue full, a failed send) and how late packets left. */
export interface LinkDelayStats {
  dropped: number
  lateMeanUs: number
  lateMaxUs: number
}

export interface LinkDelay {
  method: 'netem' | 'delay line' | 'delay line (realtime)'
  /** Removes the delay (once; later calls do nothing). */
  stop(): Promise<LinkDelayStats>
}

function onlyOnce<T>(action: () => Promise<T>): () => Promise<T> {
  let done: Promise<T> | undefined
  return () => {
    done ??= action()
    return done
  }
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Whether this kernel has netem: tried on the first host, and kept there if it does. */
function tryNetem(host: LabHost, delayUs: number): boolean {
  try {
    run('tc', ['-n', host.ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${delayUs}us`])
    return true
  } catch {
    return false
  }
}

/** Delays each host's egress on eth0 by `oneWayMs`. `workDir` receives the delay line's binary. */
export async function addLinkDelay(hosts: LabHost[], oneWayMs: number, workDir: string): Promise<LinkDelay> {
  const delayUs = Math.round(oneWayMs * 1000)
  if (tryNetem(hosts[0]!, delayUs)) {
    for (const host of hosts.slice(1)) {
      run('tc', ['-n', host.ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${delayUs}us`])
    }
    const stop = async () => {
      for (const host of hosts) run('tc', ['-n', host.ns, 'qdisc', 'del', 'dev', 'eth0', 'root'])
      return { dropped: 0, lateMeanUs: 0, lateMaxUs: 0 }
    }
    return { method: 'netem', stop: onlyOnce(stop) }
  }
  return startDelayLine(hosts, delayUs, workDir)
}

async function startDelayLine(hosts: LabHost[], delayUs: number, workDir: string): Promise<LinkDelay> {
  const binary = join(workDir, 'delay-line')
  try {
    run('cc', ['-O2', '-o', binary, DELAY_LINE_SOURCE])
  } catch (err) {
    throw new Error(
      `this kernel has no netem, and building the delay line failed (apt-get install gcc): ${err}`,
    )
  }
  const child = spawn(binary, [String(delayUs), ...hosts.map((h) => h.ns)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  process.once('exit', () => child.kill('SIGKILL'))
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line))
  const exited = once(child, 'exit')
  const ready = await Promise.race([
    waitUntil('the delay line to be ready', () => lines[0], { timeoutMs: 5000, intervalMs: 20 }),
    exited.then(() => Promise.reject(new Error('the delay line exited before it was ready'))),
  ])
  for (const host of hosts) routeThroughDelayLine(host)
  return {
    method: ready.includes('realtime') ? 'delay line (realtime)' : 'delay line',
    stop: onlyOnce(async () => {
      child.stdin!.end()
      await exited
      const field = (name: string): number =>
        Number(new RegExp(`${name} ([\\d.]+)`).exec(lines.at(-1) ?? '')?.[1] ?? Number.NaN)
      return { dropped: field('dropped'), lateMeanUs: field('late_mean_us'), lateMaxUs: field('late_max_us') }
    }),
  }
}

/**
 * Traffic to the lab subnet goes into the delay line's TUN; the delay line's own sends carry the
 * mark and take the ordinary route out eth0. Reverse-path filtering would drop the replies, which
 * come in on eth0 while the route back points at the TUN.
 */
function routeThroughDelayLine(host: LabHost): void {
  const subnet = `${host.address.split('.').slice(0, 3).join('.')}.0/24`
  const ip = (...args: string[]): string => run('ip', ['-n', host.ns, ...args])
  // IPv6 on the TUN would only send router solicitations into it, which the delay line drops.
  run('ip', ['netns', 'exec', host.ns, 'sysctl', '-qw', 'net.ipv6.conf.dl0.disable_ipv6=1'])
  ip('link', 'set', 'dl0', 'txqueuelen', '10000', 'up')
  ip('route', 'add', subnet, 'dev', 'dl0', 'src', host.address, 'table', DELAY_LINE_TABLE)
  ip('rule', 'add', 'not', 'fwmark', DELAY_LINE_MARK, 'table', DELAY_LINE_TABLE, 'pref', '100')
  run('ip', [
    'netns',
    'exec',
    host.ns,
    'sysctl',
    '-qw',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.eth0.rp_filter=0',
  ])
}
