import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ExpiryQueue } from '../src/sync/expiry-queue.ts'

interface Item {
  record: { expires: number }
  queueIndex: number
}

describe('ExpiryQueue', () => {
  it('takes out exactly the items expired at each instant, whatever was added and removed before', () => {
    const step = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ remove: fc.nat() }),
      fc.record({ takeAt: fc.integer({ min: 0, max: 100 }) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const queue = new ExpiryQueue<Item>()
        const model = new Set<Item>()
        for (const s of steps) {
          if ('add' in s) {
            const item = { record: { expires: s.add }, queueIndex: -1 }
            queue.add(item)
            model.add(item)
          } else if ('remove' in s) {
            const held = [...model]
            const item = held[s.remove % Math.max(1, held.length)]
            if (item === undefined) continue
            queue.remove(item)
            queue.remove(item)
            model.delete(item)
          } else {
            const expected = [...model].filter((item) => item.record.expires <= s.takeAt)
            const taken = queue.takeExpired(s.takeAt)
            expect(new Set(taken)).toEqual(new Set(expected))
            expect(taken.map((item) => item.record.expires)).toEqual(
              expected.map((item) => item.record.expires).sort((a, b) => a - b),
            )
            for (const item of taken) model.delete(item)
          }
          expect(queue.size).toBe(model.size)
        }
      }),
      { numRuns: 300 },
    )
  })
})
