import type { RecordOwner } from './stored-record.ts'

/** What one origin holds in one realm; its records' owner (realm and origin strings, one copy each). */
interface Share extends RecordOwner {
  entries: number
  bytes: number
}

/**
 * What each origin holds in one realm, kept up to date as records come and go, so that a full realm
 * can refuse a record from an origin already holding its fair share (an equal part of the entry cap
 * and of the byte budget among the origins present) instead of evicting other origins' records:
 * one key holder flooding the mesh then pushes out nobody's sessions but its own share's worth.
 */
export class OriginShares {
  readonly #realm: string
  readonly #shares = new Map<string, Share>()
  #bytes = 0

  constructor(realm: string) {
    this.#realm = realm
  }

  /** Counts a record in; returns the owner its stored copy shares with the origin's other records. */
  add(origin: string, bytes: number): RecordOwner {
    this.#bytes += bytes
    const share = this.#shares.get(origin)
    if (share === undefined) {
      const created: Share = { realm: this.#realm, origin, entries: 1, bytes }
      this.#shares.set(origin, created)
      return created
    }
    share.entries++
    share.bytes += bytes
    return share
  }

  remove(origin: string, bytes: number): void {
    const share = this.#shares.get(origin)
    if (share === undefined) return
    this.#bytes -= bytes
    share.entries--
    share.bytes -= bytes
    if (share.entries <= 0) this.#shares.delete(origin)
  }

  /** Whether `origin` holds its fair share of `maxEntries` and `maxBytes` already (or would, with `bytes` more). */
  atFairShare(origin: string, bytes: number, maxEntries: number, maxBytes: number): boolean {
    const share = this.#shares.get(origin)
    if (share === undefined) return false
    const origins = this.#shares.size
    return share.entries + 1 > maxEntries / origins || share.bytes + bytes > maxBytes / origins
  }

  /** What all origins hold, in accounted bytes (`recordSize`). */
  get bytes(): number {
    return this.#bytes
  }

  get origins(): number {
    return this.#shares.size
  }
}
