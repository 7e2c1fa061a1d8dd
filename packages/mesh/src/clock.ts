/** Opaque to the mesh: whatever `setTimer` returned, handed back to `clearTimer`. */
export type TimerHandle = unknown

/**
 * Where the mesh reads the time and sets its timers: the real clock by default, a virtual one in a
 * simulation (sim/), which must replay the same run from the same seed, or in a test. Deadlines on
 * real I/O (a dial, a stream read) stay on real time: they guard sockets, which a virtual clock does
 * not move.
 */
export interface MeshClock {
  /** Milliseconds since the unix epoch: records carry absolute creation and expiry times. */
  now(): number
  /** Runs `fn` once, `ms` from now. A pending timer never keeps the process alive. */
  setTimer(ms: number, fn: () => void): TimerHandle
  /** Cancels a timer; a handle that already ran, or undefined, is ignored. */
  clearTimer(handle: TimerHandle): void
}

/** Date.now and unref'd timers. */
export const realClock: MeshClock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
}

/**
 * Runs `fn` every `ms` (the next run is set when this one starts, as setInterval does) until the
 * returned function is called.
 */
export function repeat(clock: MeshClock, ms: number, fn: () => void): () => void {
  let handle: TimerHandle
  let stopped = false
  const tick = (): void => {
    if (stopped) return
    handle = clock.setTimer(ms, tick)
    fn()
  }
  handle = clock.setTimer(ms, tick)
  return () => {
    stopped = true
    clock.clearTimer(handle)
  }
}
