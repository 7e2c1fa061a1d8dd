// Event-loop delay of the process it runs in, over windows (bench/stall.ts): perf_hooks'
// monitorEventLoopDelay at 1 ms resolution, reset when a window starts, with the process's CPU and
// its garbage-collection pauses over the window (so that a long delay can be told from a GC pause).
// The histogram records the time between the 1 ms timer's runs, so an idle loop reads about 1 ms
// (p50), not 0.
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'

export interface LoopDelayReport {
  windowMs: number
  /** Timer runs recorded (about one per ms while the loop keeps up). */
  samples: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  meanMs: number
  /** CPU over the window, user and system, as a fraction of one core. */
  cpu: number
  /** GC pauses in the window: how many, their sum and the longest. */
  gcPauses: number
  gcMs: number
  gcMaxMs: number
  /** The longest scavenge (young generation) and the longest full mark-compact pause. */
  gcMaxMinorMs: number
  gcMaxMajorMs: number
}

export interface LoopDelayWindow {
  /** Starts a new window: the histogram, the CPU baseline and the GC tally are reset. */
  start(): void
  /** What the loop did since the window started. */
  report(): LoopDelayReport
}

export function loopDelayWindow(): LoopDelayWindow {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const gc = { pauses: 0, ms: 0, maxMs: 0, maxMinorMs: 0, maxMajorMs: 0 }
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.pauses++
      gc.ms += entry.duration
      gc.maxMs = Math.max(gc.maxMs, entry.duration)
      const { kind } = (entry as unknown as { detail?: { kind?: number } }).detail ?? {}
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR)
        gc.maxMinorMs = Math.max(gc.maxMinorMs, entry.duration)
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        gc.maxMajorMs = Math.max(gc.maxMajorMs, entry.duration)
    }
  }).observe({ entryTypes: ['gc'] })
  let startedAt = performance.now()
  let cpuAtStart = process.cpuUsage()
  const ms = (ns: number): number => ns / 1e6
  return {
    start() {
      histogram.reset()
      Object.assign(gc, { pauses: 0, ms: 0, maxMs: 0, maxMinorMs: 0, maxMajorMs: 0 })
      startedAt = performance.now()
      cpuAtStart = process.cpuUsage()
    },
    report() {
      const windowMs = performance.now() - startedAt
      const cpu = process.cpuUsage(cpuAtStart)
      return {
        windowMs,
        samples: histogram.count,
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        meanMs: ms(histogram.mean),
        cpu: (cpu.user + cpu.system) / 1000 / windowMs,
        gcPauses: gc.pauses,
        gcMs: gc.ms,
        gcMaxMs: gc.maxMs,
        gcMaxMinorMs: gc.maxMinorMs,
        gcMaxMajorMs: gc.maxMajorMs,
      }
    },
  }
}
