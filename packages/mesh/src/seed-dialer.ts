import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@tlsmesh/store'
import { type MeshClock, realClock, type TimerHandle } from './clock.ts'
import { type RedialBackoff, redialDelay } from './redial-backoff.ts'
import {
  type HostResolver,
  parseSeed,
  resolveSeed,
  type SeedAddress,
  systemResolver,
} from './seed-address.ts'

/** Seeds are dialed at start, then again while this node has no connection at all. */
export const SEED_DIAL_TIMEOUT_MS = 5000
/** How often a connected node looks whether it is alone (a cheap count, no I/O). */
export const SEED_CHECK_INTERVAL_MS = 1000
/**
 * Retries while no seed answers: full jitter under 1 s, 2 s, 4 s ... 30 s. A node whose seed was
 * down or too busy at its start (a whole fleet starting at once) would otherwise stay alone for
 * good; the jitter keeps a fleet that lost its seed from returning to it in lockstep.
 */
export const SEED_RETRY_BACKOFF: RedialBackoff = { baseMs: 1000, maxMs: 30_000, floorMs: 250 }
/** Addresses dialed in one round, whatever the seeds resolve to. */
export const MAX_SEED_DIALS_PER_ROUND = 64

export interface SeedDialerInit {
  /** Seeds as configured (see parseSeed); invalid ones throw InvalidSeedError here. */
  seeds: string[]
  dialTimeoutMs?: number
  checkIntervalMs?: number
  backoff?: RedialBackoff
}

export interface SeedDialerComponents {
  connectionManager: Pick<ConnectionManager, 'openConnection' | 'getConnections'>
  resolve?: HostResolver
  random?: () => number
  /** Default `realClock`. */
  clock?: MeshClock
  logger?: Logger
}

export interface SeedDialRound {
  dialed: number
  connected: number
}

export interface SeedDialer {
  start(): void
  stop(): void
  /** Replaces the seeds (a reload) and dials the new ones at once. */
  setSeeds(seeds: string[]): void
  /** Resolves every seed now and dials each address; used by the schedule, exposed for tests. */
  dialSeeds(seeds?: SeedAddress[]): Promise<SeedDialRound>
}

/**
 * Dials the configured seeds: at start, and again (with jittered backoff) whenever this node has no
 * connection. A seed without a peer id is dialed by address, the peer id learned in the Noise
 * handshake; a name is resolved again before every dial and each of its A/AAAA records dialed, so a
 * headless service or a round-robin name that now points at other hosts is followed. Bootstrap
 * (which needs peer ids and dials once) is not used.
 */
export function createSeedDialer(init: SeedDialerInit, components: SeedDialerComponents): SeedDialer {
  const { connectionManager } = components
  const resolve = components.resolve ?? systemResolver
  const random = components.random ?? Math.random
  const clock = components.clock ?? realClock
  const logger = components.logger
  const dialTimeoutMs = init.dialTimeoutMs ?? SEED_DIAL_TIMEOUT_MS
  const checkIntervalMs = init.checkIntervalMs ?? SEED_CHECK_INTERVAL_MS
  const backoff = init.backoff ?? SEED_RETRY_BACKOFF
  let seeds = init.seeds.map(parseSeed)
  let controller: AbortController | undefined
  let timer: TimerHandle
  let failures = 0
  let alone = true

  const schedule = (ms: number): void => {
    if (controller === undefined) return
    timer = clock.setTimer(ms, () => {
      timer = undefined
      round().catch((err: Error) => logger?.warn({ err: err.message }, 'seed round failed'))
    })
  }

  const addressesOf = async (seed: SeedAddress): Promise<Multiaddr[]> => {
    try {
      return await resolveSeed(seed, resolve)
    } catch (err) {
      logger?.warn({ seed: seed.source, err: (err as Error).message }, 'seed name does not resolve')
      return []
    }
  }

  const dialSeeds = async (which: SeedAddress[] = seeds): Promise<SeedDialRound> => {
    const signal = controller?.signal ?? AbortSignal.abort()
    const resolved = await Promise.all(which.map(addressesOf))
    const unique = new Map<string, Multiaddr>()
    for (const addr of resolved.flat()) unique.set(addr.toString(), addr)
    const addrs = [...unique.values()].slice(0, MAX_SEED_DIALS_PER_ROUND)
    const outcomes = await Promise.allSettled(
      addrs.map((addr) =>
        connectionManager.openConnection(addr, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)]),
        }),
      ),
    )
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'rejected') {
        logger?.debug(
          { addr: addrs[i]!.toString(), err: (outcome.reason as Error).message },
          'seed dial failed',
        )
      }
    })
    return { dialed: addrs.length, connected: outcomes.filter((o) => o.status === 'fulfilled').length }
  }

  const round = async (): Promise<void> => {
    if (controller === undefined) return
    if (connectionManager.getConnections().length > 0) {
      failures = 0
      alone = false
      schedule(checkIntervalMs)
      return
    }
    if (seeds.length === 0) {
      schedule(checkIntervalMs)
      return
    }
    const { dialed, connected } = await dialSeeds()
    if (controller === undefined) return
    if (connected > 0) {
      if (alone && failures > 0) logger?.info({ connected }, 'reached a seed after being alone')
      failures = 0
      alone = false
      schedule(checkIntervalMs)
      return
    }
    if (!alone || failures === 0) {
      logger?.warn({ seeds: seeds.length, dialed }, 'no connection and no seed answers: retrying')
    }
    alone = true
    schedule(redialDelay(failures++, backoff, random))
  }

  return {
    start() {
      if (controller !== undefined) return
      controller = new AbortController()
      alone = true
      failures = 0
      schedule(0)
    },
    stop() {
      controller?.abort()
      controller = undefined
      if (timer !== undefined) clock.clearTimer(timer)
      timer = undefined
    },
    setSeeds(next) {
      const parsed = next.map(parseSeed)
      const known = new Set(seeds.map((s) => s.source))
      const added = parsed.filter((s) => !known.has(s.source))
      seeds = parsed
      if (controller === undefined || added.length === 0) return
      dialSeeds(added).then(
        ({ dialed, connected }) =>
          connected > 0
            ? logger?.info({ seeds: added.map((s) => s.source), connected }, 'connected to a new seed')
            : logger?.warn(
                { seeds: added.map((s) => s.source), dialed },
                'dial of a new seed failed; retried while this node has no connection',
              ),
        () => {},
      )
    },
    dialSeeds,
  }
}
