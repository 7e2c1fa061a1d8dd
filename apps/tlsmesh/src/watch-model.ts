import type { DaemonStatus } from '@tlsmesh/admin-api'

/** `late`: the last poll failed but the node answered recently; `down`: it stopped answering. */
export type NodeState = 'waiting' | 'up' | 'late' | 'down'

export interface NodeRates {
  /** Records received from peers (gossip and catch-up) per second, over the last interval. */
  recordsIn: number | null
  /** Records this node published per second. */
  recordsOut: number | null
  /** memcached lookups per second; null when the endpoint is not served. */
  lookups: number | null
}

export interface NodeView {
  admin: string
  state: NodeState
  /** The last status the node answered with (kept while it is late or down). */
  status: DaemonStatus | undefined
  /** Why the last poll failed; undefined when it succeeded. */
  error: string | undefined
  lastSeenAt: number | undefined
  /** Since when the node has not answered; undefined while it answers. */
  failingSince: number | undefined
  rates: NodeRates
  history: { recordsIn: (number | null)[]; recordsOut: (number | null)[] }
  /** Over the history window: gossip messages rejected, records older than the skew window. */
  recent: { rejected: number; clockSkew: number; windowMs: number }
}

export interface TrackerOptions {
  /** Samples kept for sparklines and recent counts. */
  historyLength: number
  /** A node that has not answered for this long is down, whatever the reason. */
  downAfterMs: number
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = { historyLength: 40, downAfterMs: 3000 }

interface Sample {
  at: number
  status: DaemonStatus
}

const rejectedOf = (s: DaemonStatus): number => s.records?.rejected ?? 0
const skewOf = (s: DaemonStatus): number => s.records?.clockSkewSuspected ?? 0

/** Per node, what `watch` remembers between polls: bounded history, rates from counter deltas. */
export class NodeTracker {
  readonly admin: string
  readonly #options: TrackerOptions
  readonly #samples: Sample[] = []
  readonly #recordsIn: (number | null)[] = []
  readonly #recordsOut: (number | null)[] = []
  #rates: NodeRates = { recordsIn: null, recordsOut: null, lookups: null }
  #error: string | undefined
  #refused = false
  #failingSince: number | undefined
  #polled = false

  constructor(admin: string, options: Partial<TrackerOptions> = {}) {
    this.admin = admin
    this.#options = { ...DEFAULT_TRACKER_OPTIONS, ...options }
  }

  ok(status: DaemonStatus, at: number): void {
    this.#polled = true
    this.#error = undefined
    this.#refused = false
    this.#failingSince = undefined
    const previous = this.#samples.at(-1)
    // Another process behind the same address (a restart): its counters started again from zero.
    const restarted =
      previous !== undefined &&
      (previous.status.peerId !== status.peerId || status.uptimeMs < previous.status.uptimeMs)
    if (previous !== undefined && restarted) this.#samples.length = 0
    if (previous !== undefined && !restarted && at > previous.at) {
      const seconds = (at - previous.at) / 1000
      const delta = (read: (s: DaemonStatus) => number): number =>
        Math.max(0, read(status) - read(previous.status)) / seconds
      const lookups =
        status.memcache != null && previous.status.memcache != null
          ? delta((s) => s.memcache?.lookups ?? 0)
          : null
      this.#rates = {
        recordsIn: delta((s) => s.records.received),
        recordsOut: delta((s) => s.records.published),
        lookups,
      }
    } else {
      this.#rates = { recordsIn: null, recordsOut: null, lookups: null }
    }
    this.#push(this.#recordsIn, this.#rates.recordsIn)
    this.#push(this.#recordsOut, this.#rates.recordsOut)
    this.#samples.push({ at, status })
    if (this.#samples.length > this.#options.historyLength) this.#samples.shift()
  }

  /** `refused`: nothing listens at the address (the daemon is gone), as opposed to a slow answer. */
  failed(error: string, at: number, refused = false): void {
    this.#polled = true
    this.#error = error
    this.#refused = refused
    this.#failingSince ??= at
    this.#rates = { recordsIn: null, recordsOut: null, lookups: null }
    this.#push(this.#recordsIn, null)
    this.#push(this.#recordsOut, null)
  }

  view(now: number): NodeView {
    const last = this.#samples.at(-1)
    const first = this.#samples[0]
    let state: NodeState
    if (!this.#polled) state = 'waiting'
    else if (this.#error === undefined) state = 'up'
    else if (last === undefined || this.#refused || now - last.at >= this.#options.downAfterMs) state = 'down'
    else state = 'late'
    return {
      admin: this.admin,
      state,
      status: last?.status,
      error: this.#error,
      lastSeenAt: last?.at,
      failingSince: this.#failingSince,
      rates: { ...this.#rates },
      history: { recordsIn: [...this.#recordsIn], recordsOut: [...this.#recordsOut] },
      recent:
        first !== undefined && last !== undefined
          ? {
              rejected: rejectedOf(last.status) - rejectedOf(first.status),
              clockSkew: skewOf(last.status) - skewOf(first.status),
              windowMs: last.at - first.at,
            }
          : { rejected: 0, clockSkew: 0, windowMs: 0 },
    }
  }

  #push(series: (number | null)[], value: number | null): void {
    series.push(value)
    if (series.length > this.#options.historyLength) series.shift()
  }
}
