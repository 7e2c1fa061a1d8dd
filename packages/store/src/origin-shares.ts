/** What one origin holds in one realm. */
interface Share {
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
  readonly #shares = new Map<string, Share>()

  add(origin: string, bytes: number): void {
    const share = this.#shares.get(origin)
    if (share === undefined) {
      this.#shares.set(origin, { entries: 1, bytes })
      return
    }
    share.entries++
    share.bytes += bytes
  }

  remove(origin: string, bytes: number): void {
    const share = this.#shares.get(origin)
    if (share === undefined) return
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

  get origins(): number {
    return this.#shares.size
  }
}
