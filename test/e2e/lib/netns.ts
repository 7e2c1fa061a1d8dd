// A small lab of Linux network namespaces for partition and discovery tests: one namespace per host,
// each with a veth pair to a bridge ("switch") in a namespace of its own. Hosts sit on segments (one
// bridge each); the bridges of different segments are joined by a veth "trunk", and taking the trunks
// down partitions the segments while every host keeps its own link up, as when a switch-to-switch
// link fails. Addresses (10.203.0.0/24 by default) exist only inside namespaces this lab created; the
// root namespace is never touched. Namespaces are deleted on destroy(), when the process exits, and
// at the next lab's start if a crashed run (whose pid is gone) left any behind.
import { execFileSync } from 'node:child_process'

const PREFIX = 'tlsm-'
const STALE = /^tlsm-(\d+)-/

export interface LabHost {
  /** The namespace's name (for `ip netns exec`). */
  ns: string
  /** The host's IPv4 address on the lab subnet. */
  address: string
  segment: string
}

export interface NetnsLab {
  readonly hosts: LabHost[]
  /** Takes every trunk down: each segment is cut off from the others. */
  partition(): void
  /** Brings the trunks back up. */
  heal(): void
  /** Deletes every namespace of the lab (idempotent, never throws). */
  destroy(): void
}

export interface NetnsLabInit {
  /** One entry per host: the segment (bridge) it is attached to. */
  hosts: Array<{ segment: string }>
  /** The first three octets of the lab subnet; host i gets .(i + 1). */
  subnet?: string
  /**
   * Adds the multicast route 224.0.0.0/4 on each host's link. A namespace without a default route has
   * no route for multicast, and mDNS sends fail with ENETUNREACH (measured here).
   */
  multicast?: boolean
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function listNamespaces(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.length > 0)
}

function deleteNamespace(ns: string): void {
  try {
    ip(['netns', 'del', ns])
  } catch {
    // Already gone.
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Namespaces left by a lab whose process is gone (a killed test run). */
function removeStaleNamespaces(): void {
  for (const ns of listNamespaces()) {
    const pid = Number(STALE.exec(ns)?.[1])
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) deleteNamespace(ns)
  }
}

/**
 * Why namespace tests cannot run here, or undefined if they can: they need root, `ip` and a kernel
 * that lets us create a namespace with a bridge and a veth pair. Synchronous, for `describe.skipIf`.
 */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  const probe = `${PREFIX}${process.pid}-probe`
  try {
    ip(['netns', 'add', probe])
    ip(['-n', probe, 'link', 'add', 'br0', 'type', 'bridge'])
    ip(['-n', probe, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb'])
    return undefined
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim()
    return `ip netns is unavailable: ${stderr || (err as Error).message}`
  } finally {
    deleteNamespace(probe)
  }
}

const live = new Set<NetnsLab>()
process.once('exit', () => {
  for (const lab of live) lab.destroy()
})

let labs = 0

export function createNetnsLab(init: NetnsLabInit): NetnsLab {
  removeStaleNamespaces()
  const subnet = init.subnet ?? '10.203.0'
  if (init.hosts.length > 250) throw new RangeError('hosts: at most 250 per lab')
  // Several labs per process (one per test) must not collide: the pid keeps runs apart, the counter labs.
  const tag = `${PREFIX}${process.pid}-${labs++}`
  const switchNs = `${tag}-sw`
  const created: string[] = []
  const segments = [...new Set(init.hosts.map((h) => h.segment))]
  const trunks: string[] = []
  const hosts: LabHost[] = []
  let destroyed = false

  const lab: NetnsLab = {
    hosts,
    partition() {
      for (const trunk of trunks) ip(['-n', switchNs, 'link', 'set', trunk, 'down'])
    },
    heal() {
      for (const trunk of trunks) ip(['-n', switchNs, 'link', 'set', trunk, 'up'])
    },
    destroy() {
      if (destroyed) return
      destroyed = true
      live.delete(lab)
      // Deleting a namespace deletes the veth ends in it, and with them their peers.
      for (const ns of created.reverse()) deleteNamespace(ns)
    },
  }
  live.add(lab)

  try {
    ip(['netns', 'add', switchNs])
    created.push(switchNs)
    ip(['-n', switchNs, 'link', 'set', 'lo', 'up'])
    for (let i = 0; i < segments.length; i++) {
      const bridge = `br${i}`
      // No multicast snooping: without an IGMP querier on the lab LAN, a snooping bridge may stop
      // forwarding mDNS once its group timers lapse.
      ip(['-n', switchNs, 'link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0'])
      ip(['-n', switchNs, 'link', 'set', bridge, 'up'])
      if (i > 0) {
        // Star of trunks from segment 0: taking them down isolates every segment from the others.
        const near = `tr0-${i}`
        const far = `tr${i}-0`
        ip(['-n', switchNs, 'link', 'add', near, 'type', 'veth', 'peer', 'name', far])
        ip(['-n', switchNs, 'link', 'set', near, 'master', 'br0'])
        ip(['-n', switchNs, 'link', 'set', far, 'master', bridge])
        ip(['-n', switchNs, 'link', 'set', far, 'up'])
        ip(['-n', switchNs, 'link', 'set', near, 'up'])
        trunks.push(near)
      }
    }
    for (const [i, host] of init.hosts.entries()) {
      const ns = `${tag}-h${i}`
      const address = `${subnet}.${i + 1}`
      const port = `p${i}`
      ip(['netns', 'add', ns])
      created.push(ns)
      ip(['-n', ns, 'link', 'set', 'lo', 'up'])
      ip(['-n', switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      ip(['-n', switchNs, 'link', 'set', port, 'master', `br${segments.indexOf(host.segment)}`])
      ip(['-n', switchNs, 'link', 'set', port, 'up'])
      ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
      ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
      if (init.multicast === true) ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      hosts.push({ ns, address, segment: host.segment })
    }
  } catch (err) {
    lab.destroy()
    throw err
  }
  return lab
}
