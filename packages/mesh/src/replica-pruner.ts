import type { ReplicaStore } from '@tlsmesh/store'
import { type MeshClock, repeat } from './clock.ts'

/**
 * Records expired per turn of the event loop. Each expiry also updates the sync digest, a few
 * microseconds in all: 512 keep a turn around 3 ms, a wave of expiries (sessions of one busy
 * second expiring together) spread over as many turns as it needs.
 */
const PRUNE_SLICE = 512

/** Drops expired records from `store` every `intervalMs`, a slice per turn; returns what stops it. */
export function startPruning(store: ReplicaStore, clock: MeshClock, intervalMs: number): () => void {
  let stopped = false
  let next: NodeJS.Immediate | undefined
  const slice = (): void => {
    next = undefined
    if (stopped) return
    if (store.prune(clock.now(), PRUNE_SLICE) >= PRUNE_SLICE) next = setImmediate(slice)
  }
  const stopTicking = repeat(clock, intervalMs, () => {
    if (next === undefined) slice()
  })
  return () => {
    stopped = true
    stopTicking()
    if (next !== undefined) clearImmediate(next)
  }
}
