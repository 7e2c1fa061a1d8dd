/**
 * The unparsed bytes of one connection, kept as the chunks the socket delivered. A client sending
 * a value one byte per packet would otherwise make us copy the whole prefix on every packet
 * (quadratic in the value size); here bytes are joined once, when a whole line or value is taken.
 */
export class ByteQueue {
  #chunks: Buffer[] = []
  #length = 0

  get length(): number {
    return this.#length
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#length += chunk.length
  }

  /** Offset of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    let base = 0
    for (const chunk of this.#chunks) {
      if (from < base + chunk.length) {
        const at = chunk.indexOf(byte, Math.max(0, from - base))
        if (at !== -1) return base + at
      }
      base += chunk.length
    }
    return -1
  }

  /** The byte at `offset` (which must be below `length`). */
  at(offset: number): number {
    let base = 0
    for (const chunk of this.#chunks) {
      if (offset < base + chunk.length) return chunk[offset - base]!
      base += chunk.length
    }
    throw new RangeError('offset past the queued bytes')
  }

  /** The first `n` bytes as one buffer, without removing them (joined once if they span chunks). */
  peek(n: number): Buffer {
    const first = this.#chunks[0]
    if (first !== undefined && first.length >= n) return first.subarray(0, n)
    // Join only the chunks that hold the first n bytes: the rest may be joined later, once.
    let count = 0
    let total = 0
    while (total < n) total += this.#chunks[count++]!.length
    const joined = Buffer.concat(this.#chunks.slice(0, count), total)
    this.#chunks.splice(0, count, joined)
    return joined.subarray(0, n)
  }

  /** Removes and returns the first `n` bytes (`n` at most `length`). */
  take(n: number): Buffer {
    const out = this.peek(n)
    this.skip(n)
    return out
  }

  /** Drops the first `n` bytes (`n` at most `length`). */
  skip(n: number): void {
    let left = n
    while (left > 0) {
      const first = this.#chunks[0]!
      if (first.length <= left) {
        this.#chunks.shift()
        left -= first.length
      } else {
        this.#chunks[0] = first.subarray(left)
        left = 0
      }
    }
    this.#length -= n
  }

  clear(): void {
    this.#chunks = []
    this.#length = 0
  }
}
