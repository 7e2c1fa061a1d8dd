export interface RedialBackoff {
  /** The ceiling of the first retry; it doubles with each failure up to `maxMs`. */
  baseMs: number
  maxMs: number
  /**
   * No wait is shorter than this, so that an unlucky draw cannot spin on a dead address. The draw is
   * spread over [floorMs, ceiling], not clamped to the floor: clamping would put a quarter of a
   * fleet's first retries on the same millisecond.
   */
  floorMs: number
}

/**
 * "Full jitter" (Brooker, "Exponential backoff and jitter", AWS architecture blog, 2015): the wait
 * before retry `attempt` (0 for the first) is drawn uniformly below an exponential ceiling (above a
 * small floor). Without it, every node of a fleet that lost its seed at the same moment would retry
 * at the same moments, and the seed would meet the whole fleet at once each time it came back.
 */
export function redialDelay(attempt: number, backoff: RedialBackoff, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30))
  const floor = Math.min(backoff.floorMs, ceiling)
  return Math.floor(floor + random() * (ceiling - floor))
}
