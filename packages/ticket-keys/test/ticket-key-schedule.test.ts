import { createReplicaStore, LocalSessionCache, UnknownRealmError } from '@tlsmesh/store'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createTicketKeySchedule,
  InvalidTicketKeyOptionError,
  periodId,
  type TicketKeyScheduleInit,
  ticketKeyRecordTtlMs,
} from '../src/index.ts'
import {
  Clock,
  deliver,
  fixedJitter,
  HOUR,
  KEY_REALM,
  MINUTE,
  names,
  REALM,
  SECOND,
  T0,
  testNode,
} from './schedule-fixtures.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('options', () => {
  const cache = new LocalSessionCache({ store: createReplicaStore() })
  const make = (init: Partial<TicketKeyScheduleInit>) =>
    createTicketKeySchedule({ realm: REALM, ...init }, { cache })

  it('applies the documented defaults', () => {
    const schedule = make({})
    expect(schedule.options).toMatchObject({
      rotationMs: HOUR,
      decryptLifetimeMs: 12 * HOUR,
      distributeAheadMs: 15 * MINUTE,
      proposalJitterMs: MINUTE,
      joinGraceMs: 10 * SECOND,
      epochMs: 0,
    })
    expect(schedule.keyRealm).toBe('www.tickets')
    // current + next + 12 decrypting + 2 superseded
    expect(schedule.maxKeys).toBe(16)
  })

  it('says how long a key record lives, for the replica TTL cap, whatever the cap given', () => {
    expect(ticketKeyRecordTtlMs({ realm: REALM })).toBe(15 * MINUTE + HOUR + 12 * HOUR)
    expect(
      ticketKeyRecordTtlMs({ realm: REALM, rotationMs: 6 * SECOND, decryptLifetimeMs: 12 * SECOND }),
    ).toBe(1500 + 6000 + 12_000)
    expect(ticketKeyRecordTtlMs({ realm: REALM, decryptLifetimeMs: 30 * HOUR, maxTtlMs: HOUR })).toBe(
      15 * MINUTE + 31 * HOUR,
    )
    expect(() => ticketKeyRecordTtlMs({ realm: REALM, rotationMs: 10 })).toThrow(/rotationMs/)
  })

  it('scales the margins down with a short rotation', () => {
    expect(make({ rotationMs: 4 * SECOND }).options).toMatchObject({
      distributeAheadMs: 1000,
      proposalJitterMs: 250,
    })
  })

  it.each([
    ['realm', { realm: 'r'.repeat(57) }],
    ['realm', { realm: 'bad realm' }],
    ['rotationMs', { rotationMs: 999 }],
    ['distributeAheadMs', { distributeAheadMs: 2 * HOUR }],
    ['proposalJitterMs', { distributeAheadMs: MINUTE, proposalJitterMs: MINUTE }],
    ['decryptLifetimeMs', { decryptLifetimeMs: 23 * HOUR }],
    ['decryptLifetimeMs', { decryptLifetimeMs: -1 }],
  ])('refuses a bad %s', (field, init) => {
    expect(() => make(init)).toThrow(InvalidTicketKeyOptionError)
    expect(() => make(init)).toThrow(field)
  })
})

describe('one node', () => {
  it('waits out its join grace, proposes the current key, then the next one ahead of its period', async () => {
    const clock = new Clock(T0 + 30 * MINUTE)
    const a = testNode('a', clock, {}, { jitter: 0.5 })
    await a.schedule.start()
    expect(a.schedule.current()).toBeUndefined()
    expect(a.schedule.ready()).toBe(false)

    // Grace (10 s) + half the jitter (30 s): its peers had their chance.
    clock.set(T0 + 30 * MINUTE + 39 * SECOND)
    a.schedule.refresh()
    expect(a.schedule.current()).toBeUndefined()
    clock.set(T0 + 30 * MINUTE + 40 * SECOND)
    a.schedule.refresh()
    const first = a.schedule.current()!
    expect(first).toMatchObject({ period: a.schedule.periodAt(T0), encryptFrom: T0, encryptUntil: T0 + HOUR })
    expect(first.decryptUntil).toBe(T0 + 13 * HOUR)
    // The next key is not due before its window (T0 + 45 min + jitter): ready without it.
    expect(a.schedule.next()).toBeUndefined()
    expect(a.schedule.ready()).toBe(true)
    expect(a.changes).toHaveLength(1)
    expect(a.changes[0]).toMatchObject({ currentChanged: true })

    const record = a.cache.get(KEY_REALM, periodId(first.period))!
    expect(record).toMatchObject({
      created: T0 + 30 * MINUTE + 40 * SECOND,
      expires: T0 + 13 * HOUR,
      origin: 'a',
    })

    clock.set(T0 + 45 * MINUTE + 30 * SECOND)
    a.schedule.refresh()
    const next = a.schedule.next()!
    expect(next.period).toBe(first.period + 1)
    expect(names(a)).toEqual([first.nameHex, next.nameHex])
    expect(a.changes.at(-1)).toMatchObject({ currentChanged: false })

    clock.set(T0 + HOUR)
    a.schedule.refresh()
    expect(a.schedule.current()).toBe(next)
    expect(names(a)).toEqual([next.nameHex, first.nameHex])
    expect(a.changes.at(-1)).toMatchObject({ currentChanged: true })
    // The first key and one rotation; learning the next key changed no encrypting key.
    expect(a.schedule.status()).toMatchObject({ proposed: 2, held: 2, ready: true, rotations: 2 })
    await a.schedule.stop()
  })

  it('stays ready across a rotation before its timer has run, on the key distributed ahead', async () => {
    const clock = new Clock(T0 + 30 * MINUTE)
    const a = testNode('a', clock, {}, { jitter: 0 })
    await a.schedule.start()
    clock.set(T0 + 31 * MINUTE)
    a.schedule.refresh()
    const first = a.schedule.current()!
    clock.set(T0 + 46 * MINUTE)
    a.schedule.refresh()
    expect(a.schedule.next()).toBeDefined()
    // The period has turned, and the rotation's timer is late: the keys held are what counts.
    clock.set(T0 + HOUR + 5)
    expect(a.schedule.current()).toBe(first)
    expect(a.schedule.ready()).toBe(true)
    // Without the key for the period that has begun, a node is not ready, refreshed or not.
    const b = testNode('b', clock, {}, { jitter: 0 })
    expect(b.schedule.ready()).toBe(false)
    await a.schedule.stop()
  })

  it('rotates on its own timers through 15 hours, keeping exactly the keys within their lifetime', async () => {
    vi.useFakeTimers({ now: T0 + 50 * MINUTE, toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const store = createReplicaStore({ realms: [KEY_REALM] })
    const cache = new LocalSessionCache({ store })
    // The default clock (Date.now, faked) and a 10 s poll: rotations and proposals have their own timers.
    const schedule = createTicketKeySchedule({ realm: REALM, pollIntervalMs: 10 * SECOND }, { cache })
    const rotations: number[] = []
    schedule.addEventListener('keys:changed', (event) => {
      if (event.detail.currentChanged) rotations.push(Date.now())
    })
    await schedule.start()
    await vi.advanceTimersByTimeAsync(5 * MINUTE)
    expect(schedule.ready()).toBe(true)

    for (let hour = 1; hour <= 15; hour++) {
      await vi.advanceTimersByTimeAsync(HOUR)
      const now = Date.now()
      const keys = schedule.keys()
      expect(keys[0]!.period).toBe(schedule.periodAt(now))
      expect(schedule.ready()).toBe(true)
      for (const key of keys) expect(key.decryptUntil).toBeGreaterThan(now)
      // Current + next (distributed 15 min ahead; now is 55 min into the period) + the older ones still
      // decrypting: all periods since 12 h before the current one began, and since the first key.
      expect(keys).toHaveLength(2 + Math.min(hour, 12))
      expect(store.stats().realms[KEY_REALM]!.entries).toBeGreaterThanOrEqual(keys.length)
    }
    // The first key at T0 + 50 min + grace, then one rotation exactly on each hour.
    expect(rotations.slice(1).map((t) => (t - T0) % HOUR)).toEqual(Array(15).fill(0))
    expect(schedule.status()).toMatchObject({ proposed: 17, rotations: 16 })
    await schedule.stop()
  })

  it('stops when its start signal aborts', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const cache = new LocalSessionCache({ store: createReplicaStore() })
    const schedule = createTicketKeySchedule({ realm: REALM }, { cache })
    const controller = new AbortController()
    await schedule.start({ signal: controller.signal })
    expect(schedule.status().started).toBe(true)
    controller.abort()
    expect(schedule.status().started).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('counts, and does not throw, when the cache refuses the key realm', async () => {
    const clock = new Clock(T0)
    const errors: unknown[] = []
    // A store that serves the server realm only: the daemon forgot to subscribe `www.tickets`.
    const cache = new LocalSessionCache({ store: createReplicaStore({ realms: [REALM] }), now: clock.read })
    const schedule = createTicketKeySchedule(
      { realm: REALM, joinGraceMs: 0 },
      { cache, now: clock.read, random: fixedJitter(0), onError: (err) => errors.push(err) },
    )
    await schedule.start()
    expect(schedule.current()).toBeUndefined()
    expect(schedule.status().errors).toBeGreaterThan(0)
    expect((errors[0] as Error).name).toBe(UnknownRealmError.name)
    await schedule.stop()
  })

  it('ignores a key record of the wrong size', async () => {
    const clock = new Clock(T0)
    const a = testNode('a', clock, { joinGraceMs: HOUR })
    a.cache.set(KEY_REALM, periodId(a.schedule.periodAt(T0)), new Uint8Array(48), HOUR)
    await a.schedule.start()
    expect(a.schedule.current()).toBeUndefined()
    expect(a.schedule.status().invalidRecords).toBe(1)
    await a.schedule.stop()
  })

  it('reports names and times in its status, never key bytes', async () => {
    const clock = new Clock(T0 + 50 * MINUTE)
    const a = testNode('a', clock, { joinGraceMs: 0 })
    await a.schedule.start()
    const current = a.schedule.current()!
    const status = a.schedule.status()
    expect(status).toMatchObject({
      realm: REALM,
      keyRealm: KEY_REALM,
      ready: true,
      held: 2,
      current: { name: current.nameHex, ageMs: 50 * MINUTE, origin: 'a' },
      next: { startsInMs: 10 * MINUTE },
    })
    const text = JSON.stringify(status)
    for (const key of a.schedule.keys()) {
      expect(text).not.toContain(Buffer.from(key.material.subarray(16)).toString('hex').slice(0, 12))
    }
    await a.schedule.stop()
  })
})

describe('a fleet sharing keys', () => {
  it('distributes the next key ahead of its period: one node proposes, the others adopt it', async () => {
    const clock = new Clock(T0 + 30 * MINUTE)
    const store = createReplicaStore({ realms: [KEY_REALM] })
    const early = testNode('early', clock, { joinGraceMs: 0 }, { jitter: 0.1, store })
    const late = testNode('late', clock, { joinGraceMs: 0 }, { jitter: 0.9, store })
    await early.schedule.start()
    await late.schedule.start()
    // Turns: early at +6 s, late at +54 s. early proposes the current key, late adopts it.
    clock.set(T0 + 30 * MINUTE + 6 * SECOND)
    early.schedule.refresh()
    late.schedule.refresh()
    expect(late.schedule.current()!.sameKey(early.schedule.current()!)).toBe(true)

    // early's turn for the next key: 15 min before the period, plus 6 s.
    clock.set(T0 + 45 * MINUTE + 6 * SECOND)
    early.schedule.refresh()
    late.schedule.refresh()
    const next = early.schedule.next()!
    expect(late.schedule.next()!.sameKey(next)).toBe(true)
    // late's turn (54 s) comes: it holds a key for the period, so it proposes nothing.
    clock.set(T0 + 46 * MINUTE)
    late.schedule.refresh()
    expect(late.schedule.status().proposed).toBe(0)
    expect(early.schedule.status().proposed).toBe(2)
    expect(next.encryptFrom - next.created).toBeGreaterThanOrEqual(14 * MINUTE)

    clock.set(T0 + HOUR)
    early.schedule.refresh()
    late.schedule.refresh()
    expect(names(early)).toEqual(names(late))
    expect(early.schedule.current()!.sameKey(next)).toBe(true)
  })

  it('converges on one key when two nodes propose for the same period, whatever order records arrive in', async () => {
    for (const order of ['a-first', 'b-first'] as const) {
      const clock = new Clock(T0 + 30 * MINUTE)
      const a = testNode('a', clock, { joinGraceMs: 0 })
      const b = testNode('b', clock, { joinGraceMs: 0 })
      const c = testNode('c', clock, { joinGraceMs: HOUR })
      // Both hold the same current key, then propose the next one before hearing of each other.
      await a.schedule.start()
      deliver(a, b, clock.now)
      await b.schedule.start()
      clock.set(T0 + 45 * MINUTE + 10)
      a.schedule.refresh()
      clock.set(T0 + 45 * MINUTE + 20)
      b.schedule.refresh()
      const proposedByA = a.schedule.next()!
      const proposedByB = b.schedule.next()!
      expect(proposedByA.sameKey(proposedByB)).toBe(false)

      // Gossip brings each record to the other (and to c) in either order.
      clock.set(T0 + 46 * MINUTE)
      if (order === 'a-first') {
        deliver(a, c, clock.now)
        deliver(b, c, clock.now)
      } else {
        deliver(b, c, clock.now)
        deliver(a, c, clock.now)
      }
      deliver(a, b, clock.now)
      deliver(b, a, clock.now)
      await c.schedule.start()
      for (const node of [a, b]) node.schedule.refresh()

      // Newer `created` wins: b's.
      for (const node of [a, b, c]) expect(node.schedule.next()!.sameKey(proposedByB)).toBe(true)
      // a saw its own key replaced and keeps it to decrypt what it may have encrypted with it.
      expect(a.schedule.status().replaced).toBe(1)
      expect(names(a)).toContain(proposedByA.nameHex)
      expect(a.changes.at(-1)).toMatchObject({ currentChanged: false })
      clock.set(T0 + HOUR)
      for (const node of [a, b, c]) node.schedule.refresh()
      expect(a.schedule.current()!.nameHex).toBe(proposedByB.nameHex)
      expect(c.schedule.current()!.nameHex).toBe(proposedByB.nameHex)
    }
  })

  it('breaks a tie of equal created times by origin, the same on every node', async () => {
    const clock = new Clock(T0)
    const a = testNode('a', clock, { joinGraceMs: 0 })
    const b = testNode('b', clock, { joinGraceMs: 0 })
    await a.schedule.start()
    await b.schedule.start()
    const fromB = b.schedule.current()!
    deliver(a, b, clock.now)
    deliver(b, a, clock.now)
    a.schedule.refresh()
    b.schedule.refresh()
    expect(a.schedule.current()!.sameKey(fromB)).toBe(true)
    expect(b.schedule.current()!.sameKey(fromB)).toBe(true)
  })

  it('a node that is not an allowed proposer never proposes, and takes the proposers keys', async () => {
    const clock = new Clock(T0 + 50 * MINUTE)
    const taker = testNode('taker', clock, { joinGraceMs: 0, proposes: false })
    await taker.schedule.start()
    clock.set(T0 + 2 * HOUR)
    taker.schedule.refresh()
    expect(taker.schedule.status()).toMatchObject({ proposed: 0, ready: false })
    const proposer = testNode('proposer', clock, { joinGraceMs: 0 })
    await proposer.schedule.start()
    deliver(proposer, taker, clock.now)
    taker.schedule.refresh()
    expect(taker.schedule.ready()).toBe(true)
    expect(names(taker)).toEqual(names(proposer))
  })

  it('makes a late joiner wait for its peers keys, then report ready without proposing any', async () => {
    const clock = new Clock(T0 + 50 * MINUTE)
    const a = testNode('a', clock, { joinGraceMs: 0 })
    await a.schedule.start()
    expect(a.schedule.ready()).toBe(true)

    const joiner = testNode('joiner', clock)
    await joiner.schedule.start()
    expect(joiner.schedule.ready()).toBe(false)
    clock.set(T0 + 50 * MINUTE + 2 * SECOND)
    deliver(a, joiner, clock.now) // the catch-up round
    joiner.schedule.refresh()
    expect(joiner.schedule.ready()).toBe(true)
    expect(names(joiner)).toEqual(names(a))
    clock.set(T0 + 50 * MINUTE + 20 * SECOND)
    joiner.schedule.refresh()
    expect(joiner.schedule.status().proposed).toBe(0)
  })

  it('heals a partition through a rotation: neither side gives up the key it encrypts with, both converge at the next rotation', async () => {
    const clock = new Clock(T0 + 10 * MINUTE)
    const a = testNode('a', clock, { joinGraceMs: 0 }, { jitter: 0.2 })
    const b = testNode('b', clock, { joinGraceMs: 0 }, { jitter: 0.7 })
    await a.schedule.start()
    deliver(a, b, clock.now)
    await b.schedule.start()
    expect(names(b)).toEqual(names(a))

    // Partitioned from T0 + 20 min to T0 + 1 h 10 min: each side proposes its own next key.
    for (const t of [T0 + 50 * MINUTE, T0 + HOUR + MINUTE]) {
      clock.set(t)
      a.schedule.refresh()
      b.schedule.refresh()
    }
    const currentA = a.schedule.current()!
    const currentB = b.schedule.current()!
    expect(currentA.sameKey(currentB)).toBe(false)

    // Healed within the period: each keeps the key its servers encrypt with (the other's is a
    // conflict), and each now decrypts the other's tickets too.
    clock.set(T0 + HOUR + 10 * MINUTE)
    deliver(a, b, clock.now)
    deliver(b, a, clock.now)
    a.schedule.refresh()
    b.schedule.refresh()
    expect(a.schedule.current()!.sameKey(currentA)).toBe(true)
    expect(b.schedule.current()!.sameKey(currentB)).toBe(true)

    // The next period's key is proposed once, by whoever's turn comes first, and both take it.
    clock.set(T0 + 2 * HOUR - 14 * MINUTE)
    a.schedule.refresh()
    deliver(a, b, clock.now)
    b.schedule.refresh()
    clock.set(T0 + 2 * HOUR)
    a.schedule.refresh()
    b.schedule.refresh()
    expect(a.schedule.current()!.sameKey(b.schedule.current()!)).toBe(true)
    // Until its lifetime ends, a still decrypts what its servers sealed with its old key.
    expect(names(a)).toContain(currentA.nameHex)
    clock.set(currentA.decryptUntil)
    a.schedule.refresh()
    expect(names(a)).not.toContain(currentA.nameHex)
  })
})
