import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ExpiryQueue } from '../src/sync/expiry-queue.ts'

describe('ExpiryQueue', () => {
  it('takes out exactly the slots expired at each instant, soonest first, whatever was added and removed before', () => {
    const step = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ remove: fc.nat() }),
      fc.record({ takeAt: fc.integer({ min: 0, max: 100 }) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        // Slot -> expiry, for the slots in the queue; freed slots are reused, as a digest does.
        const model = new Map<number, number>()
        const queue = new ExpiryQueue((slot) => model.get(slot)!)
        const free: number[] = []
        let next = 0
        for (const s of steps) {
          if ('add' in s) {
            const slot = free.pop() ?? next++
            model.set(slot, s.add)
            queue.add(slot)
          } else if ('remove' in s) {
            const held = [...model.keys()]
            const slot = held[s.remove % Math.max(1, held.length)]
            if (slot === undefined) continue
            queue.remove(slot)
            queue.remove(slot)
            model.delete(slot)
            free.push(slot)
          } else {
            const expected = [...model].filter(([, expires]) => expires <= s.takeAt)
            const taken: number[] = []
            for (let slot = queue.firstExpired(s.takeAt); slot >= 0; slot = queue.firstExpired(s.takeAt)) {
              queue.remove(slot)
              taken.push(slot)
              free.push(slot)
            }
            expect(new Set(taken)).toEqual(new Set(expected.map(([slot]) => slot)))
            expect(taken.map((slot) => model.get(slot))).toEqual(
              expected.map(([, expires]) => expires).sort((a, b) => a - b),
            )
            for (const slot of taken) model.delete(slot)
          }
          expect(queue.size).toBe(model.size)
        }
      }),
      { numRuns: 300 },
    )
  })
})
