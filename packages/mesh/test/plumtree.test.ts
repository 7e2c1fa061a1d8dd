import { randomBytes } from 'node:crypto'
import { BroadcastKind } from '@tlsmesh/wire'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type GossipPayload, messageIdOf, type OutboundFrame, Plumtree } from '../src/broadcast/plumtree.ts'

interface SimNode {
  name: string
  tree: Plumtree
  delivered: Map<string, number>
}

/**
 * N Plumtree instances wired through an in-memory network with a per-link delay, so the protocol's
 * behaviour (delivery, duplicates, repair) is checked without sockets.
 */
function simulate(
  n: number,
  options: {
    delayMs?: number
    connectivity?: (a: number, b: number) => boolean
    maxEagerPeers?: number
    lazyFanout?: number
  } = {},
) {
  const nodes: SimNode[] = []
  const down = new Set<string>()
  let payloadSends = 0
  const originSends = new Map<string, number>()
  const linked = options.connectivity ?? (() => true)
  for (let i = 0; i < n; i++) {
    const name = `n${i}`
    const delivered = new Map<string, number>()
    const tree = new Plumtree(
      {
        realm: 'r',
        graftTimeoutMs: 40,
        regraftTimeoutMs: 20,
        lazyFlushMs: 5,
        lazyFanout: options.lazyFanout ?? 64,
        maxEagerPeers: options.maxEagerPeers ?? 64,
        shedIntervalMs: 10,
        cacheEntries: 1000,
        cacheTtlMs: 30_000,
        seenEntries: 10_000,
        seenTtlMs: 60_000,
      },
      {
        send: (peer: string, frame: OutboundFrame) => {
          if (down.has(peer) || down.has(name)) return false
          if (frame.kind === BroadcastKind.GOSSIP) {
            payloadSends++
            if (frame.hops === 0) originSends.set(name, (originSends.get(name) ?? 0) + 1)
          }
          const target = nodes[Number(peer.slice(1))]!
          setTimeout(() => {
            if (down.has(peer)) return
            if (frame.kind === BroadcastKind.GOSSIP) target.tree.onGossip(name, frame)
            else if (frame.kind === BroadcastKind.IHAVE) target.tree.onIHave(name, frame.ids, frame.hops)
            else if (frame.kind === BroadcastKind.GRAFT) target.tree.onGraft(name, frame.ids)
            else if (frame.kind === BroadcastKind.PRUNE) target.tree.onPrune(name, frame.full)
          }, options.delayMs ?? 1)
          return true
        },
        authenticate: () => true,
        deliver: (payload: GossipPayload) => {
          const k = Buffer.from(payload.data).toString('hex')
          delivered.set(k, (delivered.get(k) ?? 0) + 1)
          return 'accept'
        },
      },
    )
    nodes.push({ name, tree, delivered })
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j && linked(i, j)) nodes[i]!.tree.addPeer(`n${j}`)
  }
  const publish = (from: number): string => {
    const data = randomBytes(16)
    nodes[from]!.tree.broadcast({
      realm: 'r',
      origin: Buffer.from(`n${from}`),
      data,
      hops: 0,
    })
    return data.toString('hex')
  }
  return {
    nodes,
    publish,
    kill: (i: number) => {
      down.add(`n${i}`)
      for (const node of nodes) node.tree.removePeer(`n${i}`)
    },
    get payloadSends() {
      return payloadSends
    },
    originSends,
    stop: () => {
      for (const node of nodes) node.tree.stop()
    },
  }
}

/** One tree of realm 'r' with short timers, as the single-node tests drive it. */
const SINGLE_INIT = {
  realm: 'r',
  graftTimeoutMs: 40,
  regraftTimeoutMs: 20,
  lazyFlushMs: 5,
  lazyFanout: 6,
  maxEagerPeers: 64,
  shedIntervalMs: 0,
  cacheEntries: 100,
  cacheTtlMs: 30_000,
  seenEntries: 100,
  seenTtlMs: 60_000,
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * One Plumtree whose frames are recorded, with the verdict its deliveries get and the neighbours they
 * came from; `refuse` makes a send fail (a full queue) and the frame is not recorded; `authentic`
 * says which copies pass the signature check.
 */
function single(
  verdict: 'accept' | 'ignore' | 'reject' = 'accept',
  refuse: (peer: string, frame: OutboundFrame) => boolean = () => false,
  maxEagerPeers = 64,
  authentic: (payload: GossipPayload, from: string) => boolean = () => true,
) {
  const sent: Array<{ peer: string; frame: OutboundFrame }> = []
  const deliveredFrom: string[] = []
  const tree = new Plumtree(
    { ...SINGLE_INIT, maxEagerPeers },
    {
      send: (peer, frame) => !refuse(peer, frame) && sent.push({ peer, frame }) > 0,
      authenticate: authentic,
      deliver: (_payload, from) => {
        deliveredFrom.push(from)
        return verdict
      },
    },
  )
  const payload = (): GossipPayload => ({
    realm: 'r',
    origin: Buffer.from('origin'),
    data: randomBytes(16),
    hops: 0,
  })
  return { tree, sent, payload, deliveredFrom }
}

describe('Plumtree', () => {
  // A test on fake timers that fails leaves them on otherwise.
  afterEach(() => {
    vi.useRealTimers()
  })

  it('delivers every message to every node exactly once, from any origin', async () => {
    const sim = simulate(10)
    const ids: string[] = []
    for (let i = 0; i < 50; i++) {
      ids.push(sim.publish(i % 10))
      await settle(5)
    }
    await settle(300)
    for (const node of sim.nodes) {
      for (const [i, id] of ids.entries()) {
        if (i % 10 === Number(node.name.slice(1))) continue
        expect(node.delivered.get(id)).toBe(1)
      }
    }
    sim.stop()
  })

  it('settles into a tree: about N-1 payload copies per message once warmed up', async () => {
    const sim = simulate(10)
    for (let i = 0; i < 30; i++) {
      sim.publish(i % 10)
      await settle(10)
    }
    await settle(200)
    const before = sim.payloadSends
    for (let i = 0; i < 40; i++) {
      sim.publish(i % 10)
      await settle(10)
    }
    await settle(200)
    const perMessage = (sim.payloadSends - before) / 40
    expect(perMessage).toBeGreaterThanOrEqual(9)
    expect(perMessage).toBeLessThan(9 * 1.2)
    sim.stop()
  })

  it('bounds what an origin sends per message by its eager cap, whatever N', async () => {
    const sim = simulate(20, { maxEagerPeers: 4 })
    // Warm-up: the origin sheds its links beyond the cap one at a time (every 10 ms here), and the
    // nodes shed GRAFT their way below its other children.
    for (let i = 0; i < 40; i++) {
      sim.publish(0)
      await settle(10)
    }
    await settle(300)
    const before = sim.originSends.get('n0') ?? 0
    for (let i = 0; i < 40; i++) {
      sim.publish(0)
      await settle(5)
    }
    await settle(300)
    // Every node got every message, and the origin sent at most 4 copies of each, where the push
    // design sends 19.
    for (const node of sim.nodes.slice(1)) expect(node.delivered.size).toBe(80)
    expect(((sim.originSends.get('n0') ?? 0) - before) / 40).toBeLessThanOrEqual(4)
    sim.stop()
  })

  it('beyond its cap, sheds children (not the parent it receives from) and declines GRAFTs', () => {
    const { tree, sent, payload } = single('accept', () => false, 2)
    for (const peer of ['parent', 'c1', 'c2', 'c3']) tree.addPeer(peer)
    // Each payload from the parent sheds one more child, down to the cap of 2.
    for (let i = 0; i < 4; i++) tree.onGossip('parent', payload())
    const fullPrunes = sent.filter((s) => s.frame.kind === BroadcastKind.PRUNE && s.frame.full)
    expect(fullPrunes).toHaveLength(2)
    expect(fullPrunes.map((s) => s.peer)).not.toContain('parent')
    expect(tree.stats.eagerPeers).toBe(2)
    expect(tree.stats.linksShed).toBe(2)
    // A shed child's GRAFT is answered (it needs the payload) but declined again: the link stays lazy.
    const shed = fullPrunes[0]!.peer
    const p = payload()
    tree.onGossip('parent', p)
    sent.length = 0
    tree.onGraft(shed, [messageIdOf(p.origin, p.data)])
    expect(
      sent.map((s) => [s.peer, s.frame.kind, s.frame.kind === BroadcastKind.PRUNE && s.frame.full]),
    ).toEqual([
      [shed, BroadcastKind.GOSSIP, false],
      [shed, BroadcastKind.PRUNE, true],
    ])
    expect(tree.stats.graftsDeclined).toBe(1)
    expect(tree.stats.eagerPeers).toBe(2)
    tree.stop()
  })

  it('counts the relays each first copy came through, so that the depth of the tree can be watched', () => {
    const { tree, payload } = single()
    tree.addPeer('a')
    tree.addPeer('b')
    const p = payload()
    tree.onGossip('a', { ...p, hops: 2 })
    tree.onGossip('b', { ...p, hops: 0 })
    tree.onGossip('b', { ...payload(), hops: 1 })
    expect(tree.stats.payloadsReceived).toBe(2)
    expect(tree.stats.relaysBeforeArrival).toBe(3)
    tree.stop()
  })

  it('does not send a payload down an eager link to a neighbour that announced it', () => {
    const { tree, sent, payload } = single()
    for (const peer of ['parent', 'announcer', 'child']) tree.addPeer(peer)
    const p = payload()
    tree.onIHave('announcer', [messageIdOf(p.origin, p.data)])
    tree.onGossip('parent', p)
    const copies = sent.filter((s) => s.frame.kind === BroadcastKind.GOSSIP).map((s) => s.peer)
    expect(copies).toEqual(['child'])
    expect(tree.stats.payloadsSpared).toBe(1)
    tree.stop()
  })

  it('a copy that fails authentication, coming first, does not make the next one a duplicate', () => {
    // The id covers the origin and the signed batch, so a copy under the same id is refused only by
    // a check that judged it apart from its bytes; the tree must not count on the check never doing so.
    const { tree, sent, payload, deliveredFrom } = single(
      'accept',
      () => false,
      64,
      (_p, from) => from !== 'forger',
    )
    for (const peer of ['forger', 'honest', 'child']) tree.addPeer(peer)
    const genuine = payload()
    tree.onGossip('forger', { ...genuine })
    tree.onGossip('honest', genuine)
    expect(deliveredFrom).toEqual(['honest'])
    expect(sent.filter((s) => s.peer === 'child' && s.frame.kind === BroadcastKind.GOSSIP)).toHaveLength(1)
    expect(tree.stats.duplicates).toBe(0)
    tree.stop()
  })

  it('GRAFTs the announcer nearest the origin', () => {
    vi.useFakeTimers()
    const { tree, sent, payload } = single()
    for (const peer of ['deep', 'near']) tree.addPeer(peer)
    for (let i = 0; i < 5; i++) {
      const id = (p: GossipPayload) => [messageIdOf(p.origin, p.data)]
      const p = payload()
      tree.onIHave('deep', id(p), 3)
      tree.onIHave('near', id(p), 1)
    }
    // Past the graft timeout (40 ms), before the next announcer would be asked (20 ms later).
    vi.advanceTimersByTime(50)
    const grafted = sent.filter((s) => s.frame.kind === BroadcastKind.GRAFT).map((s) => s.peer)
    expect(grafted).toEqual(['near', 'near', 'near', 'near', 'near'])
    tree.stop()
    vi.useRealTimers()
  })

  it('GRAFTs an announcer that declined lately only when no other announced the batch', () => {
    vi.useFakeTimers()
    const { tree, sent, payload } = single()
    tree.addPeer('full')
    tree.addPeer('open')
    tree.onPrune('full', true)
    tree.onPrune('open', false)
    for (let i = 0; i < 5; i++) {
      const p = payload()
      tree.onIHave('full', [messageIdOf(p.origin, p.data)])
      tree.onIHave('open', [messageIdOf(p.origin, p.data)])
    }
    const alone = payload()
    tree.onIHave('full', [messageIdOf(alone.origin, alone.data)])
    // Past the graft timeout (40 ms), before the next announcer would be asked (20 ms later).
    vi.advanceTimersByTime(50)
    const grafted = sent.filter((s) => s.frame.kind === BroadcastKind.GRAFT).map((s) => s.peer)
    expect(grafted.filter((peer) => peer === 'open')).toHaveLength(5)
    expect(grafted.filter((peer) => peer === 'full')).toHaveLength(1)
    tree.stop()
    vi.useRealTimers()
  })

  it('prunes a neighbour whose copies come second by as long a path after 3, by a shorter path after 8', () => {
    for (const [dupHops, batches, prunes] of [
      [2, 3, 1],
      [0, 3, 0],
      [0, 7, 0],
      [0, 8, 1],
    ] as const) {
      const { tree, sent, payload } = single()
      tree.addPeer('near')
      tree.addPeer('far')
      for (let i = 0; i < batches; i++) {
        const p = payload()
        tree.onGossip('far', { ...p, hops: 1 })
        tree.onGossip('near', { ...p, hops: dupHops })
      }
      expect(sent.filter((s) => s.peer === 'near' && s.frame.kind === BroadcastKind.PRUNE)).toHaveLength(
        prunes,
      )
      tree.stop()
    }
  })

  it('above its eager cap, prunes a neighbour on its first duplicate', () => {
    const { tree, sent, payload } = single('accept', () => false, 2)
    for (const peer of ['a', 'b', 'c', 'd', 'e']) tree.addPeer(peer)
    const p = payload()
    tree.onGossip('a', p)
    tree.onGossip('b', { ...p, hops: 1 })
    // Not the PRUNE that sheds a link beyond the cap ("full"), which may pick b too.
    const prunes = sent.filter((s) => s.peer === 'b' && s.frame.kind === BroadcastKind.PRUNE && !s.frame.full)
    expect(prunes).toHaveLength(1)
    tree.stop()
  })

  it('does not prune the parent whose copy came after one this node GRAFTed', async () => {
    const { tree, sent, payload } = single()
    tree.addPeer('parent')
    tree.addPeer('other')
    for (let i = 0; i < 3; i++) {
      const p = payload()
      tree.onIHave('other', [messageIdOf(p.origin, p.data)])
      await settle(50)
      // The GRAFT went to "other", whose answer comes first; the parent's copy was only late.
      tree.onGossip('other', p)
      tree.onGossip('parent', p)
    }
    expect(sent.filter((s) => s.frame.kind === BroadcastKind.GRAFT).length).toBeGreaterThan(0)
    expect(sent.filter((s) => s.peer === 'parent' && s.frame.kind === BroadcastKind.PRUNE)).toHaveLength(0)
    tree.stop()
  })

  it('repairs the tree from lazy links when a node on it dies', async () => {
    const sim = simulate(8)
    for (let i = 0; i < 20; i++) {
      sim.publish(0)
      await settle(5)
    }
    await settle(200)
    // Kill whichever node relays the most (the busiest eager neighbour of the origin).
    sim.kill(3)
    const after: string[] = []
    for (let i = 0; i < 20; i++) {
      after.push(sim.publish(0))
      await settle(5)
    }
    await settle(500)
    for (const node of sim.nodes) {
      if (node.name === 'n0' || node.name === 'n3') continue
      for (const id of after) expect(node.delivered.get(id)).toBe(1)
    }
    sim.stop()
  })

  it('announces a batch to a neighbour that was lazy when it went out, even if grafted since', async () => {
    // n0's tree link to "b" is lazy: a batch goes eagerly to "a" (which is about to die) and by id to
    // "b". Before the announcement leaves, "b" grafts n0 for an older batch and becomes eager.
    const { tree, sent, payload } = single()
    tree.addPeer('a')
    tree.addPeer('b')
    tree.onPrune('b', false)
    const older = payload()
    tree.broadcast(older)
    tree.broadcast(payload())
    tree.onGraft('b', [messageIdOf(older.origin, older.data)])
    await settle(20)
    const announced = sent.filter((s) => s.peer === 'b' && s.frame.kind === BroadcastKind.IHAVE)
    expect(announced).toHaveLength(1)
    expect(announced[0]!.frame).toMatchObject({ ids: { length: 2 } })
    tree.stop()
  })

  it('waits longer before grafting while payloads arrive late but unasked, and no longer than 4x', async () => {
    // Every payload comes 60 ms after its IHAVE (a busy host), past the 40 ms graft timeout.
    const { tree, sent, payload } = single()
    tree.addPeer('parent')
    tree.addPeer('other')
    const grafts = () => sent.filter((s) => s.frame.kind === BroadcastKind.GRAFT).length
    for (let i = 0; i < 12; i++) {
      const p = payload()
      tree.onIHave('other', [messageIdOf(p.origin, p.data)])
      await settle(60)
      tree.onGossip('parent', p)
    }
    const early = grafts()
    expect(tree.currentGraftTimeout()).toBeGreaterThan(60)
    expect(tree.currentGraftTimeout()).toBeLessThanOrEqual(160)
    // Once adapted, late payloads no longer draw GRAFTs; a payload that never comes still does.
    const before = grafts()
    for (let i = 0; i < 5; i++) {
      const p = payload()
      tree.onIHave('other', [messageIdOf(p.origin, p.data)])
      await settle(60)
      tree.onGossip('parent', p)
    }
    expect(grafts()).toBe(before)
    const lost = payload()
    tree.onIHave('other', [messageIdOf(lost.origin, lost.data)])
    await settle(200)
    expect(grafts()).toBe(before + 1)
    expect(early).toBeGreaterThan(0)
    tree.stop()
  })

  it('returns to the configured graft timeout within seconds once no payload is late', () => {
    vi.useFakeTimers()
    try {
      const { tree, payload } = single()
      tree.addPeer('parent')
      tree.addPeer('other')
      for (let i = 0; i < 12; i++) {
        const p = payload()
        tree.onIHave('other', [messageIdOf(p.origin, p.data)])
        // Past the 40 ms timeout (a GRAFT went to "other"), before the regraft at 60 ms.
        vi.advanceTimersByTime(50)
        tree.onGossip('parent', p)
      }
      const busy = tree.currentGraftTimeout()
      expect(busy).toBeGreaterThan(50)
      // Payloads now come ahead of their IHAVE, which says nothing of lateness: the timeout decays.
      vi.advanceTimersByTime(2000)
      expect(tree.currentGraftTimeout()).toBeLessThan(busy)
      vi.advanceTimersByTime(10_000)
      expect(tree.currentGraftTimeout()).toBeLessThanOrEqual(42)
      tree.stop()
    } finally {
      vi.useRealTimers()
    }
  })

  it('announces a batch to a neighbour whose queue was full, so that it can GRAFT it later', async () => {
    let full = true
    const { tree, sent, payload } = single(
      'accept',
      (peer, frame) => peer === 'slow' && frame.kind === BroadcastKind.GOSSIP && full,
    )
    tree.addPeer('slow')
    tree.addPeer('fast')
    const lost = payload()
    tree.broadcast(lost)
    full = false
    await settle(20)
    const ihave = sent.find((s) => s.peer === 'slow' && s.frame.kind === BroadcastKind.IHAVE)
    expect(ihave?.frame).toMatchObject({ ids: [messageIdOf(lost.origin, lost.data)] })
    expect(tree.stats.sendFailures).toBe(1)
    // Its GRAFT is answered from the cache.
    tree.onGraft('slow', [messageIdOf(lost.origin, lost.data)])
    expect(sent.filter((s) => s.peer === 'slow' && s.frame.kind === BroadcastKind.GOSSIP)).toHaveLength(1)
    tree.stop()
  })

  it('bounds what a flood of announcements or an oversized GRAFT from a neighbour can cost', () => {
    const { tree, sent, payload } = single()
    tree.addPeer('flooder')
    for (let frame = 0; frame < 5; frame++) {
      tree.onIHave(
        'flooder',
        Array.from({ length: 4096 }, () => randomBytes(20)),
      )
    }
    expect(tree.stats.announcementsDropped).toBe(5 * 4096 - 16_384)
    // 100 batches in the cache; a GRAFT for all of them is answered for the first 64 only.
    const ids: Uint8Array[] = []
    for (let i = 0; i < 100; i++) {
      const p = payload()
      tree.broadcast(p)
      ids.push(messageIdOf(p.origin, p.data))
    }
    const before = sent.filter((s) => s.frame.kind === BroadcastKind.GOSSIP).length
    tree.onGraft('flooder', ids)
    expect(sent.filter((s) => s.frame.kind === BroadcastKind.GOSSIP).length - before).toBe(64)
    expect(tree.stats.graftIdsRefused).toBe(36)
    tree.stop()
  })

  it('forwards a payload its origin signed before judging its records, and stops a forged one', async () => {
    for (const [verdict, authentic, forwarded, announced] of [
      ['accept', true, 1, 1],
      ['ignore', true, 1, 1],
      ['reject', true, 1, 0],
      ['accept', false, 0, 0],
    ] as const) {
      const { tree, sent, payload } = single(
        verdict,
        () => false,
        64,
        () => authentic,
      )
      tree.addPeer('a')
      tree.addPeer('b')
      tree.addPeer('c')
      tree.onPrune('c', false)
      tree.onGossip('a', payload())
      await settle(20)
      expect(sent.filter((s) => s.peer === 'b' && s.frame.kind === BroadcastKind.GOSSIP)).toHaveLength(
        forwarded,
      )
      expect(sent.filter((s) => s.peer === 'c' && s.frame.kind === BroadcastKind.IHAVE)).toHaveLength(
        announced,
      )
      tree.stop()
    }
  })

  it('relays at once a payload whose verdict comes later, and announces it only once accepted', async () => {
    for (const [verdict, announced] of [
      ['accept', 1],
      ['ignore', 1],
      ['reject', 0],
    ] as const) {
      let settleVerdict!: (v: 'accept' | 'ignore' | 'reject') => void
      const sent: Array<{ peer: string; frame: OutboundFrame }> = []
      const tree = new Plumtree(SINGLE_INIT, {
        send: (peer, frame) => sent.push({ peer, frame }) > 0,
        authenticate: () => true,
        deliver: () =>
          new Promise((resolve) => {
            settleVerdict = resolve
          }),
      })
      for (const peer of ['a', 'b', 'c']) tree.addPeer(peer)
      tree.onPrune('c', false)
      tree.onGossip('a', { realm: 'r', origin: Buffer.from('origin'), data: randomBytes(16), hops: 0 })
      const ihaves = () => sent.filter((s) => s.peer === 'c' && s.frame.kind === BroadcastKind.IHAVE)
      expect(sent.filter((s) => s.peer === 'b' && s.frame.kind === BroadcastKind.GOSSIP)).toHaveLength(1)
      await settle(20)
      expect(ihaves()).toHaveLength(0)
      settleVerdict(verdict)
      await settle(20)
      expect(ihaves()).toHaveLength(announced)
      tree.stop()
    }
  })

  it('reads time, sets timers and draws random numbers only through the injected clock and source', () => {
    let now = 1000
    const timers: Array<{ at: number; fn: () => void }> = []
    const sent: Array<{ peer: string; frame: OutboundFrame }> = []
    let draws = 0
    const tree = new Plumtree(SINGLE_INIT, {
      send: (peer, frame) => sent.push({ peer, frame }) > 0,
      authenticate: () => true,
      deliver: () => 'accept',
      clock: {
        now: () => now,
        setTimer: (ms, fn) => timers.push({ at: now + ms, fn }),
        clearTimer: () => {},
      },
      random: () => {
        draws++
        return 0
      },
    })
    tree.addPeer('a')
    tree.addPeer('b')
    const p = { realm: 'r', origin: Buffer.from('o'), data: randomBytes(16), hops: 0 }
    tree.onIHave('a', [messageIdOf(p.origin, p.data)])
    tree.onIHave('b', [messageIdOf(p.origin, p.data)])
    expect(timers.map((t) => t.at)).toEqual([1040])
    // Due on the injected clock: the GRAFT goes to one of the two announcers, drawn from `random`.
    now = 1040
    timers[0]!.fn()
    expect(sent.filter((s) => s.frame.kind === BroadcastKind.GRAFT)).toHaveLength(1)
    expect(draws).toBeGreaterThan(0)
    tree.stop()
  })

  it('reaches nodes that are not neighbours of the origin (partial connectivity)', async () => {
    // A ring with chords: each node linked to its 3 successors and predecessors.
    const n = 16
    const sim = simulate(n, { connectivity: (a, b) => Math.min((a - b + n) % n, (b - a + n) % n) <= 3 })
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      ids.push(sim.publish(0))
      await settle(5)
    }
    await settle(500)
    for (const node of sim.nodes.slice(1)) for (const id of ids) expect(node.delivered.get(id)).toBe(1)
    sim.stop()
  })
})
