import { getEventListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { SessionDeadline } from '../src/sync/session-deadline.ts'

describe('SessionDeadline', () => {
  it('aborts when a message takes longer than its deadline, counted from the latest step', async () => {
    const deadline = new SessionDeadline(60, 10_000, new AbortController().signal)
    for (let i = 0; i < 5; i++) {
      await sleep(30)
      expect(deadline.step().aborted).toBe(false)
    }
    await sleep(120)
    expect(deadline.signal.aborted).toBe(true)
    expect((deadline.signal.reason as Error).name).toBe('TimeoutError')
    deadline.end()
  })

  it('aborts when the whole session outlasts its deadline, however often it steps', async () => {
    const deadline = new SessionDeadline(60, 150, new AbortController().signal)
    for (let i = 0; i < 10 && !deadline.signal.aborted; i++) {
      deadline.step()
      await sleep(30)
    }
    expect(deadline.signal.aborted).toBe(true)
    deadline.end()
  })

  it('aborts at shutdown, and leaves no listener on the shutdown signal once ended', () => {
    const shutdown = new AbortController()
    const ended = new SessionDeadline(1000, 10_000, shutdown.signal)
    ended.end()
    const live = new SessionDeadline(1000, 10_000, shutdown.signal)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
    shutdown.abort(new Error('stopping'))
    expect(live.signal.aborted).toBe(true)
    expect(ended.signal.aborted).toBe(false)
    live.end()
    expect(new SessionDeadline(1000, 10_000, shutdown.signal).signal.aborted).toBe(true)
  })

  it('never aborts once ended: its timers are gone', async () => {
    const deadline = new SessionDeadline(20, 40, new AbortController().signal)
    deadline.end()
    await sleep(80)
    expect(deadline.signal.aborted).toBe(false)
  })

  it("gives each step a signal of its own, aborted with the session: a step's listeners stay on it", async () => {
    const deadline = new SessionDeadline(40, 10_000, new AbortController().signal)
    const steps = Array.from({ length: 20 }, () => deadline.step())
    for (const step of steps) step.addEventListener('abort', () => {})
    expect(getEventListeners(deadline.signal, 'abort')).toHaveLength(0)
    await sleep(100)
    expect(steps.every((step) => step.aborted && (step.reason as Error).name === 'TimeoutError')).toBe(true)
    deadline.end()
  })
})
