import type { Multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { type MeshClock, realClock } from '../src/clock.ts'
import { LOST_PEER_BACKOFF, PeerRedial } from '../src/peer-redial.ts'
import { redialDelay } from '../src/redial-backoff.ts'
import type { HostResolver } from '../src/seed-address.ts'
import {
  createSeedDialer,
  SEED_CHECK_INTERVAL_MS,
  SEED_RETRY_BACKOFF,
  type SeedDialerComponents,
} from '../src/seed-dialer.ts'

/** Timers run by hand: each step runs the next one due and waits until the round has scheduled again. */
function manualTimers() {
  const pending: Array<{ fn: () => void; ms: number }> = []
  const timers: MeshClock = {
    now: () => 0,
    setTimer(ms, fn) {
      const timer = { fn, ms }
      pending.push(timer)
      return timer
    },
    clearTimer(handle) {
      const i = pending.indexOf(handle as never)
      if (i >= 0) pending.splice(i, 1)
    },
  }
  return {
    timers,
    pending,
    /** Runs the next timer and resolves with the delay of the one the round scheduled next. */
    async step(): Promise<number> {
      const timer = pending.shift()
      if (timer === undefined) throw new Error('nothing scheduled')
      timer.fn()
      for (let i = 0; i < 100 && pending.length === 0; i++) await new Promise((r) => setImmediate(r))
      if (pending.length === 0) throw new Error('the round scheduled nothing')
      return pending[0]!.ms
    },
  }
}

/** A connection manager that connects to the addresses in `up` and refuses the rest. */
function fakeConnections(up: Set<string>) {
  const dialed: string[][] = [[]]
  let connections = 0
  const connectionManager: SeedDialerComponents['connectionManager'] = {
    openConnection: (async (addr: Multiaddr) => {
      dialed.at(-1)!.push(addr.toString())
      if (!up.has(addr.toString())) throw new Error('ECONNREFUSED')
      connections++
      return {}
    }) as never,
    getConnections: (() => Array.from({ length: connections })) as never,
  }
  return {
    connectionManager,
    dialed,
    /** Starts a new list of dials (one per round). */
    nextRound: () => dialed.push([]),
    dropAll: () => {
      connections = 0
    },
  }
}

function resolverOver(table: Record<string, string[]>): HostResolver & { calls: number } {
  const resolve = Object.assign(
    async (host: string) => {
      resolve.calls++
      return table[host] ?? []
    },
    { calls: 0 },
  )
  return resolve
}

describe('seed dialer', () => {
  it('dials every seed address and every record of a name, resolving the name again at each redial', async () => {
    const table: Record<string, string[]> = { 'fleet.example': ['10.0.0.1', '10.0.0.2'] }
    const resolve = resolverOver(table)
    const net = fakeConnections(new Set())
    const clock = manualTimers()
    let draws = 0
    const dialer = createSeedDialer(
      { seeds: ['10.0.0.9:7645', '/dns4/fleet.example/tcp/7645'] },
      {
        connectionManager: net.connectionManager,
        resolve,
        clock: clock.timers,
        random: () => [0.5, 0.9, 0.1][draws++ % 3]!,
      },
    )
    dialer.start()
    expect(clock.pending.map((t) => t.ms)).toEqual([0])

    // Nobody answers: retries within [0.25 s, 1 s], then 2 s, 4 s, at the draws 0.5, 0.9, 0.1.
    expect(await clock.step()).toBe(625)
    expect(net.dialed[0]).toEqual([
      '/ip4/10.0.0.9/tcp/7645',
      '/ip4/10.0.0.1/tcp/7645',
      '/ip4/10.0.0.2/tcp/7645',
    ])
    net.nextRound()
    // The name now points at other hosts (a rescheduled pod): the redial follows it.
    table['fleet.example'] = ['10.0.0.3']
    expect(await clock.step()).toBe(1825)
    expect(net.dialed[1]).toEqual(['/ip4/10.0.0.9/tcp/7645', '/ip4/10.0.0.3/tcp/7645'])
    net.nextRound()
    expect(await clock.step()).toBe(625)
    expect(resolve.calls).toBe(3)
    dialer.stop()
    expect(clock.pending).toEqual([])
  })

  it('dials nothing while connected, and the seeds again once alone', async () => {
    const up = new Set(['/ip4/10.0.0.1/tcp/7645'])
    const net = fakeConnections(up)
    const clock = manualTimers()
    const dialer = createSeedDialer(
      { seeds: ['seed.example:7645'] },
      {
        connectionManager: net.connectionManager,
        resolve: resolverOver({ 'seed.example': ['10.0.0.1'] }),
        clock: clock.timers,
      },
    )
    dialer.start()
    expect(await clock.step()).toBe(SEED_CHECK_INTERVAL_MS)
    expect(net.dialed.flat()).toHaveLength(1)
    net.nextRound()
    expect(await clock.step()).toBe(SEED_CHECK_INTERVAL_MS)
    expect(await clock.step()).toBe(SEED_CHECK_INTERVAL_MS)
    expect(net.dialed.at(-1)).toEqual([])
    net.dropAll()
    expect(await clock.step()).toBe(SEED_CHECK_INTERVAL_MS)
    expect(net.dialed.at(-1)).toEqual(['/ip4/10.0.0.1/tcp/7645'])
    dialer.stop()
  })

  it('dials seeds added by a reload at once', async () => {
    const net = fakeConnections(new Set(['/ip4/10.0.0.2/tcp/1']))
    const clock = manualTimers()
    const dialer = createSeedDialer(
      { seeds: ['10.0.0.1:1'] },
      { connectionManager: net.connectionManager, clock: clock.timers },
    )
    dialer.start()
    await clock.step()
    net.nextRound()
    dialer.setSeeds(['10.0.0.1:1', '10.0.0.2:1'])
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r))
    expect(net.dialed.at(-1)).toEqual(['/ip4/10.0.0.2/tcp/1'])
    expect(() => dialer.setSeeds(['nope'])).toThrow(expect.objectContaining({ name: 'InvalidSeedError' }))
    dialer.stop()
  })

  it('refuses a bad seed when built', () => {
    const net = fakeConnections(new Set())
    expect(() =>
      createSeedDialer({ seeds: ['10.0.0.1'] }, { connectionManager: net.connectionManager }),
    ).toThrow(expect.objectContaining({ name: 'InvalidSeedError' }))
  })
})

describe('redial jitter', () => {
  /** mulberry32: a seeded stand-in for Math.random, so that the test cannot flake. */
  const seeded = (seed: number) => (): number => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  // A fleet that lost its seed at one moment: each node draws its own wait for the same attempt.
  const fleet = (attempt: number, backoff = SEED_RETRY_BACKOFF, nodes = 50): number[] =>
    Array.from({ length: nodes }, (_, node) => redialDelay(attempt, backoff, seeded(node + 1)))

  for (const attempt of [0, 3, 10]) {
    it(`spreads 50 nodes' seed redials over the window for attempt ${attempt}`, () => {
      const ceiling = Math.min(SEED_RETRY_BACKOFF.maxMs, SEED_RETRY_BACKOFF.baseMs * 2 ** attempt)
      const delays = fleet(attempt)
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(SEED_RETRY_BACKOFF.floorMs)
      expect(Math.max(...delays)).toBeLessThanOrEqual(ceiling)
      // Without jitter all 50 were equal: now nearly all differ, and no stretch of 40% of the
      // window is left without a redial.
      expect(new Set(delays).size).toBeGreaterThan(40)
      const sorted = [...delays].sort((a, b) => a - b)
      const gaps = [
        sorted[0]! - 0,
        ...sorted.slice(1).map((d, i) => d - sorted[i]!),
        ceiling - sorted.at(-1)!,
      ]
      expect(Math.max(...gaps)).toBeLessThan(0.4 * ceiling)
    })
  }

  it('spreads lost-peer redials too, under the 5 s ceiling that keeps a healed partition within 10 s', () => {
    const delays = fleet(6, LOST_PEER_BACKOFF)
    expect(Math.max(...delays)).toBeLessThanOrEqual(5000)
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(2500)
  })

  it('draws lost-peer redials from the random source the redial is given', () => {
    const redial = (r: number) =>
      new PeerRedial(
        { protocol: '/x' },
        { connectionManager: {} as never, events: {} as never, clock: realClock, random: () => r },
      )
    expect([0, 0.5, 0.999].map((r) => redial(r).delay(3))).toEqual([250, 2625, 4995])
  })

  it('draws the wait from the random source it is given, never below the floor', () => {
    const backoff = { baseMs: 1000, maxMs: 30_000, floorMs: 250 }
    expect([0, 0.25, 0.5, 0.999].map((r) => redialDelay(2, backoff, () => r))).toEqual([
      250, 1187, 2125, 3996,
    ])
    expect(redialDelay(100, backoff, () => 0.5)).toBe(15_125)
  })
})
