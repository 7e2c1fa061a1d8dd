import { describe, expect, it } from 'vitest'
import { ExpiryWheel } from '../src/expiry-wheel.ts'

/** A wheel over a map of key -> expiry, kept as the store keeps it: every change goes to both. */
function setup() {
  const held = new Map<string, number>()
  const looked = { count: 0 }
  const wheel = new ExpiryWheel((key) => {
    looked.count++
    return held.get(key)
  })
  const set = (key: string, expires: number) => {
    const before = held.get(key)
    held.set(key, expires)
    if (before !== undefined) wheel.remove(before)
    wheel.add(key, expires)
  }
  const remove = (key: string) => {
    const before = held.get(key)!
    held.delete(key)
    wheel.remove(before)
  }
  const expired: string[] = []
  const prune = (now: number, limit = Number.POSITIVE_INFINITY) =>
    wheel.prune(now, limit, (key) => {
      expired.push(key)
      remove(key)
    })
  return { held, wheel, set, remove, prune, expired, looked }
}

describe('ExpiryWheel', () => {
  it('expires what expired by now, oldest second first, and keeps the rest of the current second', () => {
    const { set, prune, expired, held } = setup()
    set('late', 5_900)
    set('b', 2_500)
    set('a', 1_100)
    set('now', 5_100)
    expect(prune(5_500)).toBe(3)
    expect(expired).toEqual(['a', 'b', 'now'])
    expect([...held.keys()]).toEqual(['late'])
    expect(prune(5_899)).toBe(0)
    expect(prune(5_900)).toBe(1)
  })

  it('stops at the limit and goes on from there on the next call', () => {
    const { set, prune, expired } = setup()
    for (let i = 0; i < 10; i++) set(`k${i}`, 1_000 + i)
    expect(prune(2_000, 4)).toBe(4)
    expect(prune(2_000, 4)).toBe(4)
    expect(prune(2_000, 4)).toBe(2)
    expect(new Set(expired).size).toBe(10)
  })

  it('never expires a record at the time of an expiry it had before', () => {
    const { set, prune, expired, held } = setup()
    set('moved', 1_000)
    set('moved', 60_000)
    set('gone', 1_500)
    held.delete('gone')
    expect(prune(10_000)).toBe(0)
    expect(expired).toEqual([])
    expect(prune(60_000)).toBe(1)
  })

  it('keeps a key set again and again to about twice its live slots, whatever the number of sets', () => {
    const { set, wheel, prune } = setup()
    for (let i = 0; i < 100_000; i++) set(`k${i % 10}`, 5_000 + (i % 7))
    // 10 live keys; each bucket is compacted once half its 64 or more slots are stale.
    expect(wheel.slots).toBeLessThanOrEqual(10 * 2 + 64)
    expect(prune(6_000)).toBe(10)
    expect(wheel.slots).toBe(0)
  })

  it('forgets a bucket whose records all went, without a prune', () => {
    const { set, remove, wheel } = setup()
    for (let i = 0; i < 1_000; i++) set(`k${i}`, 9_000)
    for (let i = 0; i < 1_000; i++) remove(`k${i}`)
    expect(wheel.slots).toBe(0)
  })

  it('costs each call what it visits: a large second is pruned in slices without walking it again', () => {
    const { set, prune, looked, held } = setup()
    for (let i = 0; i < 20_000; i++) set(`k${i}`, 1_000 + (i % 1_000))
    // 20,000 records of one past second, in slices of 512: each slot looked at once.
    while (prune(5_000, 512) === 512);
    expect(held.size).toBe(0)
    expect(looked.count).toBeLessThanOrEqual(20_000)
    // The current second, none expired yet: a call looks at no more slots than its limit.
    for (let i = 0; i < 20_000; i++) set(`n${i}`, 9_999)
    looked.count = 0
    for (let call = 0; call < 10; call++) expect(prune(9_000, 512)).toBe(0)
    expect(looked.count).toBeLessThanOrEqual(10 * 512)
    expect(prune(9_999, 512)).toBe(512)
  })
})
