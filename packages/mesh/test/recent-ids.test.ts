import { describe, expect, it } from 'vitest'
import { RecentIds } from '../src/broadcast/recent-ids.ts'

function clock() {
  let t = 1_000
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
  }
}

describe('RecentIds', () => {
  it('remembers an id for at least the ttl, and forgets it within twice the ttl', () => {
    const c = clock()
    const ids = new RecentIds<number>({ maxEntries: 1000, ttlMs: 100, now: c.now })
    ids.set('a', 3)
    c.advance(99)
    expect(ids.get('a')).toBe(3)
    c.advance(2)
    ids.set('b', 1)
    expect(ids.has('a')).toBe(true)
    c.advance(100)
    expect(ids.has('a')).toBe(false)
    expect(ids.has('b')).toBe(true)
  })

  it('forgets everything after two idle ttls, with no write in between', () => {
    const c = clock()
    const ids = new RecentIds<number>({ maxEntries: 1000, ttlMs: 100, now: c.now })
    ids.set('a', 1)
    c.advance(250)
    expect(ids.has('a')).toBe(false)
    expect(ids.size).toBe(0)
  })

  it('keeps at least the last maxEntries / 2 ids and never more than maxEntries', () => {
    const c = clock()
    const ids = new RecentIds<number>({ maxEntries: 100, ttlMs: 60_000, now: c.now })
    for (let i = 0; i < 10_000; i++) {
      ids.set(`id${i}`, i)
      expect(ids.size).toBeLessThanOrEqual(100)
    }
    for (let i = 10_000 - 50; i < 10_000; i++) expect(ids.get(`id${i}`)).toBe(i)
    expect(ids.has('id0')).toBe(false)
  })

  it('moves an id seen again into the current generation, keeping its latest value', () => {
    const c = clock()
    const ids = new RecentIds<number>({ maxEntries: 1000, ttlMs: 100, now: c.now })
    ids.set('a', 1)
    c.advance(150)
    ids.set('a', 2)
    c.advance(100)
    expect(ids.get('a')).toBe(2)
  })
})
