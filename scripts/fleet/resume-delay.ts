// How soon after a full handshake on one server a session resumes on another: each sample makes a
// session on server A (a full handshake) and offers it to server B the moment A's handshake
// completes at the client (as a browser opens its second connection, which a balancer may send
// elsewhere), then again on a ladder of delays, until B resumes it or the ladder ends. The delay of
// a sample is when the attempt that resumed started, after A's handshake completed at the client.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ConnectTarget, requestOnce } from './resume-client.ts'

/** When B is asked, ms after A's handshake; an attempt starts late when the one before took longer. */
export const RESUME_DELAY_LADDER_MS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

export interface ResumeDelayInit {
  /** Dialled directly: sample i makes its session on server i mod n and offers it to the next one. */
  servers: Array<{ host: string; port: number }>
  samples: number
  tlsVersion: ConnectTarget['tlsVersion']
}

export interface ResumeDelayResult {
  /** Per sample: ms from A's handshake to the start of the attempt B resumed; null if none did. */
  delaysMs: Array<number | null>
  /** Samples whose first attempt, right after A's handshake, resumed. */
  firstAttempt: number
  errors: number
}

export async function measureResumeDelay(init: ResumeDelayInit): Promise<ResumeDelayResult> {
  const result: ResumeDelayResult = { delaysMs: [], firstAttempt: 0, errors: 0 }
  const n = init.servers.length
  for (let i = 0; i < init.samples; i++) {
    const a = { ...init.servers[i % n]!, tlsVersion: init.tlsVersion }
    const b = { ...init.servers[(i + 1) % n]!, tlsVersion: init.tlsVersion }
    try {
      const sample = await resumeOnOther(a, b)
      result.delaysMs.push(sample.delayMs)
      if (sample.attempts === 1) result.firstAttempt++
    } catch {
      result.errors++
    }
  }
  return result
}

/** Offers B the session A made, from the moment A's handshake completes, as a browser's second connection. */
async function resumeOnOther(
  a: ConnectTarget,
  b: ConnectTarget,
): Promise<{ delayMs: number | null; attempts: number }> {
  let secure!: (made: { at: number; session: Buffer | undefined }) => void
  const secured = new Promise<{ at: number; session: Buffer | undefined }>((resolve) => {
    secure = resolve
  })
  const first = requestOnce(a, undefined, (session) => secure({ at: performance.now(), session }))
  try {
    const { at, session } = await Promise.race([secured, first.then(() => secured)])
    if (session === undefined) throw new Error('the full handshake gave no session')
    for (const [attempt, step] of RESUME_DELAY_LADDER_MS.entries()) {
      const wait = at + step - performance.now()
      if (wait > 0) await sleep(wait)
      const startedMs = performance.now() - at
      if ((await requestOnce(b, session)).resumed) return { delayMs: startedMs, attempts: attempt + 1 }
    }
    return { delayMs: null, attempts: RESUME_DELAY_LADDER_MS.length }
  } finally {
    await first.catch(() => {})
  }
}
