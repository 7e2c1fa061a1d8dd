import { describe, expect, it } from 'vitest'
import { PropagationWindow } from '../src/propagation-window.ts'

function filled(values: number[], capacity?: number): PropagationWindow {
  const window = new PropagationWindow(capacity)
  for (const v of values) window.add(v)
  return window
}

describe('PropagationWindow', () => {
  it('has no quantiles while empty', () => {
    const window = new PropagationWindow(4)
    expect(window.count).toBe(0)
    expect(window.quantile(0.5)).toBeUndefined()
  })

  it('gives nearest-rank quantiles of 1..100 whatever the order they came in', () => {
    const values = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1)
    const window = filled(values)
    expect(window.count).toBe(100)
    expect(window.quantile(0)).toBe(1)
    expect(window.quantile(0.07)).toBe(7)
    expect(window.quantile(0.5)).toBe(50)
    expect(window.quantile(0.99)).toBe(99)
    expect(window.quantile(1)).toBe(100)
  })

  it('sorts numerically, fractions and negative delays (clock skew) included', () => {
    const window = filled([10, 9, 100, -3, 2.5])
    expect(window.quantile(0)).toBe(-3)
    expect(window.quantile(0.5)).toBe(9)
    expect(window.quantile(1)).toBe(100)
  })

  it('gives the one sample for every quantile', () => {
    const window = filled([42])
    expect([window.quantile(0), window.quantile(0.5), window.quantile(0.99)]).toEqual([42, 42, 42])
  })

  it('keeps only the last `capacity` samples', () => {
    const window = filled([1000, 1000, 1000, 1, 2, 3, 4], 4)
    expect(window.count).toBe(4)
    expect(window.quantile(1)).toBe(4)
    expect(window.quantile(0)).toBe(1)
  })
})
