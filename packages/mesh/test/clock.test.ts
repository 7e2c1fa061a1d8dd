import { describe, expect, it } from 'vitest'
import { repeat } from '../src/clock.ts'
import { ManualClock } from '../src/manual-clock.ts'

describe('the mesh clock', () => {
  it('ManualClock runs due timers in time order, each seeing its own time, and skips cleared ones', () => {
    const clock = new ManualClock(1000)
    const ran: Array<[string, number]> = []
    clock.setTimer(30, () => ran.push(['b', clock.now()]))
    clock.setTimer(10, () => ran.push(['a', clock.now()]))
    const cleared = clock.setTimer(20, () => ran.push(['never', clock.now()]))
    clock.setTimer(30, () => ran.push(['c', clock.now()]))
    clock.clearTimer(cleared)
    clock.advance(29)
    expect(ran).toEqual([['a', 1010]])
    clock.advance(100)
    expect(ran).toEqual([
      ['a', 1010],
      ['b', 1030],
      ['c', 1030],
    ])
    expect(clock.now()).toBe(1129)
    expect(clock.pending).toBe(0)
  })

  it('repeat runs every period until stopped, also when stopped from inside a run', () => {
    const clock = new ManualClock()
    const runs: number[] = []
    const stop = repeat(clock, 100, () => {
      runs.push(clock.now())
      if (runs.length === 3) stop()
    })
    clock.advance(99)
    expect(runs).toEqual([])
    clock.advance(1000)
    expect(runs).toEqual([100, 200, 300])
    expect(clock.pending).toBe(0)
  })
})
