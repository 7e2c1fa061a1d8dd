import type { Logger } from '@tlsmesh/store'

/** At most one warning of each kind per interval: each is about the node, not about one record. */
export const CLOCK_SKEW_WARNING_INTERVAL_MS = 60_000
export const CONFLICT_WARNING_INTERVAL_MS = 10_000

export interface MeshWarningsComponents {
  now: () => number
  logger?: Logger
}

/** The operator's warnings about the fleet's health that single records reveal, rate-limited. */
export class MeshWarnings {
  readonly #components: MeshWarningsComponents
  readonly #lastWarned = new Map<'clockSkew' | 'conflict', number>()

  constructor(components: MeshWarningsComponents) {
    this.#components = components
  }

  /**
   * Records arrive by gossip older than the clock-skew window. Peers refuse a node's records whose
   * `created` is ahead of their clocks (from-future), and a node whose clock is behind sees fresh
   * gossip as old: either way its sessions stop replicating.
   */
  clockSkew(ageMs: number, windowMs: number): void {
    if (!this.#due('clockSkew', CLOCK_SKEW_WARNING_INTERVAL_MS)) return
    this.#components.logger?.warn(
      { ageMs, windowMs },
      'gossip records arrive older than the clock-skew window: check NTP on this node and its peers',
    )
  }

  /**
   * A contested realm's rule refused a newer record of another origin: in the fleet's realms, a
   * ticket key proposed for a period that had started here (a partition, or a key holder's attempt).
   */
  conflict(realm: string, origin: string): void {
    if (!this.#due('conflict', CONFLICT_WARNING_INTERVAL_MS)) return
    this.#components.logger?.warn(
      { realm, origin },
      'refused a competing record for an id another node holds (a ticket key for a period that has started)',
    )
  }

  #due(kind: 'clockSkew' | 'conflict', intervalMs: number): boolean {
    const now = this.#components.now()
    if (now - (this.#lastWarned.get(kind) ?? Number.NEGATIVE_INFINITY) < intervalMs) return false
    this.#lastWarned.set(kind, now)
    return true
  }
}
