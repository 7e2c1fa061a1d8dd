import { describe, expect, it } from 'vitest'
import { nextTurn, TimeSlice } from '../src/sync/time-slice.ts'

/** Holds the thread for `ms`, as a long step of work does. */
function busy(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spinning
  }
}

/** A flag that an immediate scheduled now sets: whether the loop has turned since. */
function turned(): () => boolean {
  let ran = false
  setImmediate(() => {
    ran = true
  })
  return () => ran
}

describe('TimeSlice', () => {
  it('hands the loop back once a step has spent the slice, so that a timer due meanwhile runs first', async () => {
    // From the check phase, as a sync responder is after its one-message-a-turn yield.
    await nextTurn()
    const slice = new TimeSlice(2, undefined, 1)
    let fired = false
    setTimeout(() => {
      fired = true
    }, 0)
    busy(3)
    await slice.maybeYield()
    expect(fired).toBe(true)
  })

  it('keeps going while the slice lasts', async () => {
    const slice = new TimeSlice(60_000, undefined, 1)
    const hasTurned = turned()
    for (let i = 0; i < 100; i++) await slice.maybeYield()
    expect(hasTurned()).toBe(false)
  })

  it('reads the clock only every `checkEvery` steps', async () => {
    const slice = new TimeSlice(0, undefined, 64)
    const hasTurned = turned()
    for (let i = 0; i < 63; i++) await slice.maybeYield()
    expect(hasTurned()).toBe(false)
    await slice.maybeYield()
    expect(hasTurned()).toBe(true)
  })

  it('says when the slice is spent without a promise a step, and starts a new slice after handing back', async () => {
    const slice = new TimeSlice(2, undefined, 4)
    expect([slice.spent(), slice.spent(), slice.spent(), slice.spent()]).toEqual([false, false, false, false])
    busy(3)
    // Only the fourth step reads the clock.
    expect([slice.spent(), slice.spent(), slice.spent(), slice.spent()]).toEqual([false, false, false, true])
    const hasTurned = turned()
    await slice.handBack()
    expect(hasTurned()).toBe(true)
    expect([slice.spent(), slice.spent(), slice.spent(), slice.spent()]).toEqual([false, false, false, false])
  })

  it('refuses a check interval that is not a power of two, which its step mask would misread', () => {
    for (const checkEvery of [0, 3, 48, 1.5]) {
      expect(() => new TimeSlice(1, undefined, checkEvery)).toThrow(RangeError)
    }
    expect(() => new TimeSlice(1, undefined, 1)).not.toThrow()
  })

  it('stops with the signal: the step after an abort throws its reason', async () => {
    const controller = new AbortController()
    const slice = new TimeSlice(0, controller.signal, 1)
    await slice.maybeYield()
    controller.abort(new Error('session over'))
    await expect(slice.maybeYield()).rejects.toThrow('session over')
  })
})
