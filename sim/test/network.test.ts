import { describe, expect, it } from 'vitest'
import { FRAME_OVERHEAD_BYTES, Network } from '../network.ts'
import { Prng } from '../prng.ts'
import { Scheduler } from '../scheduler.ts'

const setUp = () => {
  const scheduler = new Scheduler(0)
  const network = new Network(
    { regions: 2, lanMs: 0.2, wanMs: 30, lanMbps: 1000, wanMbps: 8, handleMs: 0.1, loss: 0 },
    scheduler,
    new Prng(1),
  )
  const arrivals: Array<[string, number]> = []
  const send = (a: number, b: number, name: string, bytes: number) =>
    network.transmit(a, b, bytes, () => arrivals.push([name, scheduler.now()]))
  return { scheduler, network, arrivals, send }
}

describe('the simulated network', () => {
  it('delivers a frame after its serialization, the link latency and the handling', () => {
    const { scheduler, network, arrivals, send } = setUp()
    // Nodes 0 and 1 are in different regions: 8 Mbit/s is 1 byte per µs.
    send(0, 1, 'a', 1000 - FRAME_OVERHEAD_BYTES)
    scheduler.runUntil(1000)
    expect(arrivals[0]![1]).toBeCloseTo(1 + network.latency(0, 1) + 0.1, 9)
  })

  it('queues frames on a link in order: a large frame delays the small one behind it', () => {
    const { scheduler, network, arrivals, send } = setUp()
    send(0, 1, 'large', 8000 - FRAME_OVERHEAD_BYTES)
    send(0, 1, 'small', 1000 - FRAME_OVERHEAD_BYTES)
    // The other direction is a queue of its own.
    send(1, 0, 'back', 1000 - FRAME_OVERHEAD_BYTES)
    scheduler.runUntil(1000)
    const at = Object.fromEntries(arrivals)
    const latency = network.latency(0, 1) + 0.1
    expect(at.large).toBeCloseTo(8 + latency, 9)
    expect(at.small).toBeCloseTo(9 + latency, 9)
    expect(at.back).toBeCloseTo(1 + latency, 9)
    expect(arrivals.map(([name]) => name)).toEqual(['back', 'large', 'small'])
  })

  it('drops what crosses a cut, and carries it again once healed', () => {
    const { scheduler, network, arrivals, send } = setUp()
    network.cut(new Set([1]))
    send(0, 1, 'lost', 100)
    network.heal()
    send(0, 1, 'kept', 100)
    scheduler.runUntil(1000)
    expect(arrivals.map(([name]) => name)).toEqual(['kept'])
  })
})
