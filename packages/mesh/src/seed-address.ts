import { lookup } from 'node:dns/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'

/**
 * A seed, as written in the configuration:
 * - `host:port`, `[v6]:port`, `/ip4|ip6/ADDR/tcp/PORT`: dialed without a peer id (learned in the Noise
 *   handshake; the mesh key already tells fleet members from strangers);
 * - `/dns|dns4|dns6/NAME/tcp/PORT` (or `NAME:PORT`): resolved to every A/AAAA record at each dial;
 * - anything with `/p2p/<peer id>`: dialed as libp2p dials it.
 */
export type SeedAddress =
  | { kind: 'address'; source: string; addr: Multiaddr }
  | { kind: 'dns'; source: string; host: string; family: 0 | 4 | 6; port: number; peerId?: string }

/** Resolves a name to its addresses (every A and/or AAAA record). */
export type HostResolver = (host: string, family: 0 | 4 | 6) => Promise<string[]>

export class InvalidSeedError extends Error {
  static override name = 'InvalidSeedError'
  override name = 'InvalidSeedError'
  readonly code = 'invalid-seed'
}

/** A round-robin name with more records than this is dialed on its first ones only. */
export const MAX_ADDRS_PER_SEED = 16

const HOSTNAME =
  /^(?=.{1,253}\.?$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/i
const DNS_FAMILY: Record<string, 0 | 4 | 6> = { dns: 0, dns4: 4, dns6: 6 }

const USAGE = 'expected HOST:PORT, /dns4/NAME/tcp/PORT, /ip4/ADDR/tcp/PORT or a multiaddr with /p2p/<peer id>'

/** Parses one seed; throws InvalidSeedError (with the reason, without a field name) if it is none. */
export function parseSeed(value: string): SeedAddress {
  const seed = value.trim()
  if (seed.startsWith('/')) return parseSeedMultiaddr(seed)
  const match = /^(?:\[([^\]]+)\]|([^:/\s[\]]+)):(\d{1,5})$/.exec(seed)
  if (match === null) throw new InvalidSeedError(`"${value}": ${USAGE}`)
  const port = checkPort(value, match[3]!)
  const v6 = match[1]
  if (v6 !== undefined) {
    if (!isIPv6(v6)) throw new InvalidSeedError(`"${value}": "${v6}" is not an IPv6 address`)
    return { kind: 'address', source: value, addr: multiaddr(`/ip6/${v6}/tcp/${port}`) }
  }
  const host = match[2]!
  if (isIPv4(host)) return { kind: 'address', source: value, addr: multiaddr(`/ip4/${host}/tcp/${port}`) }
  if (!HOSTNAME.test(host)) throw new InvalidSeedError(`"${value}": "${host}" is not a host name`)
  return { kind: 'dns', source: value, host, family: 0, port }
}

function parseSeedMultiaddr(value: string): SeedAddress {
  let addr: Multiaddr
  try {
    addr = multiaddr(value)
  } catch (err) {
    throw new InvalidSeedError(`"${value}" is not a multiaddr (${(err as Error).message}): ${USAGE}`)
  }
  const parts = addr.getComponents()
  const [host, tcp, p2p, ...rest] = parts
  const peerId = p2p?.name === 'p2p' ? p2p.value : undefined
  const plain = host !== undefined && tcp?.name === 'tcp' && (p2p === undefined || peerId !== undefined)
  if (plain && rest.length === 0) {
    const family = DNS_FAMILY[host.name]
    if (family !== undefined && host.value !== undefined) {
      return {
        kind: 'dns',
        source: value,
        host: host.value,
        family,
        port: checkPort(value, tcp.value ?? ''),
        ...(peerId !== undefined ? { peerId } : {}),
      }
    }
    if (host.name === 'ip4' || host.name === 'ip6') return { kind: 'address', source: value, addr }
  }
  // Other forms (a /dnsaddr/ name, a relay) are libp2p's to dial, as long as they name the peer.
  if (parts.some((c) => c.name === 'p2p')) return { kind: 'address', source: value, addr }
  throw new InvalidSeedError(`"${value}": ${USAGE}`)
}

function checkPort(value: string, port: string): number {
  const n = Number(port)
  if (!Number.isInteger(n) || n < 1 || n > 65_535) {
    throw new InvalidSeedError(`"${value}": port ${port} is not between 1 and 65535`)
  }
  return n
}

export const systemResolver: HostResolver = async (host, family) =>
  (await lookup(host, { all: true, family })).map((entry) => entry.address)

/** The addresses to dial for a seed now: a name is resolved again on every call. */
export async function resolveSeed(seed: SeedAddress, resolve: HostResolver): Promise<Multiaddr[]> {
  if (seed.kind === 'address') return [seed.addr]
  const suffix = seed.peerId !== undefined ? `/p2p/${seed.peerId}` : ''
  const addrs = new Map<string, Multiaddr>()
  for (const ip of await resolve(seed.host, seed.family)) {
    const proto = isIPv4(ip) ? 'ip4' : isIPv6(ip) ? 'ip6' : undefined
    if (
      proto === undefined ||
      (seed.family === 4 && proto !== 'ip4') ||
      (seed.family === 6 && proto !== 'ip6')
    )
      continue
    const text = `/${proto}/${ip}/tcp/${seed.port}${suffix}`
    if (!addrs.has(text)) addrs.set(text, multiaddr(text))
    if (addrs.size >= MAX_ADDRS_PER_SEED) break
  }
  return [...addrs.values()]
}
