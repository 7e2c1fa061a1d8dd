import { describe, expect, it } from 'vitest'
import { compact, duration, ms, percent, rate } from '../src/units.ts'

// The widths of the columns of `tlsmesh watch`'s fleet view that these fill.
const HIT = 5
const UP = 6
const RATE = 6
const RECORDS = 7
const P99 = 6

describe('units: values fit their watch columns', () => {
  it('percent: 0, 99.95, 100 and no lookups', () => {
    const cases: Array<[hits: number, lookups: number, shown: string]> = [
      [0, 1000, '0.0%'],
      [990, 1000, '99.0%'],
      [9_994, 10_000, '99.9%'],
      // 99.95% and anything short of every lookup reads 99.9%, never a rounded-up 100.
      [19_990, 20_000, '99.9%'],
      [999_999, 1_000_000, '99.9%'],
      [1000, 1000, '100%'],
      [1, 1, '100%'],
      [0, 0, '-'],
    ]
    for (const [hits, lookups, shown] of cases) {
      expect(percent(hits, lookups), `${hits}/${lookups}`).toBe(shown)
      expect(shown.length).toBeLessThanOrEqual(HIT)
    }
  })

  it('duration stays within the UP column, past 100 days too', () => {
    const day = 86_400_000
    expect(duration(0)).toBe('0s')
    expect(duration(3_723_000)).toBe('1h02m')
    expect(duration(99 * day + 23 * 3_600_000)).toBe('99d23h')
    expect(duration(100 * day + 4 * 3_600_000)).toBe('100d')
    for (const t of [59_999, 3_599_999, day - 1, 99 * day + 23 * 3_600_000, 10_000 * day])
      expect(duration(t).length, duration(t)).toBeLessThanOrEqual(UP)
  })

  it('compact moves to the next unit where the rounded figure would reach it', () => {
    expect(compact(999.4)).toBe('999')
    expect(compact(999.6)).toBe('1.0k')
    expect(compact(9_949)).toBe('9.9k')
    expect(compact(9_960)).toBe('10k')
    expect(compact(999_600)).toBe('1.0M')
    expect(compact(999_600_000)).toBe('1.0G')
    for (const n of [0, 999.6, 9_999, 999_999, 9_999_999, 999_999_999, 99_999_999_999])
      expect(compact(n).length, compact(n)).toBeLessThanOrEqual(Math.min(5, RECORDS))
  })

  it('rate and ms stay within IN/s and P99ms', () => {
    expect(rate(null)).toBe('-')
    expect(rate(999.9)).toBe('999.9')
    expect(rate(999.96)).toBe('1.0k')
    expect(ms(null)).toBe('-')
    expect(ms(8.25)).toBe('8.3')
    expect(ms(99_999)).toBe('99999')
    expect(ms(123_456)).toBe('123k')
    expect(ms(-123_456)).toBe('-123k')
    for (const n of [0, 999.94, 999.96, 1e9]) expect(rate(n).length, rate(n)).toBeLessThanOrEqual(RATE)
    for (const n of [9.96, -9.96, 99_999.4, -99_999.4, 1e7, -1e7])
      expect(ms(n).length, ms(n)).toBeLessThanOrEqual(P99)
  })
})
