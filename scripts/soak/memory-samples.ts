// Memory samples of a long-lived process and what the soak concludes from them.

export interface Summary {
  count: number
  min: number
  median: number
  max: number
}

export function summarize(values: number[]): Summary {
  if (values.length === 0) return { count: 0, min: Number.NaN, median: Number.NaN, max: Number.NaN }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { count: sorted.length, min: sorted[0]!, median, max: sorted[sorted.length - 1]! }
}

export interface MemorySample {
  /** ms since the soak started */
  atMs: number
  rssMiB: number
  /** V8 heap in use, sampled right after a full GC (the process runs with --expose-gc) */
  heapMiB: number
  /** memory outside the V8 heap held by JS objects: Buffers, ArrayBuffers, WebAssembly memories */
  externalMiB: number
}

/** Takes a sample of this process, after a full GC when `gc` is exposed, so that heap is live data. */
export function sampleMemory(startedAt: number): MemorySample {
  ;(globalThis as { gc?: () => void }).gc?.()
  const m = process.memoryUsage()
  const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10
  return {
    atMs: Date.now() - startedAt,
    rssMiB: mib(m.rss),
    heapMiB: mib(m.heapUsed),
    externalMiB: mib(m.external),
  }
}

export interface MemoryGrowth {
  /** samples after warm-up */
  rss: Summary
  heap: Summary
  external: Summary
  /** median of the last fifth of the samples after warm-up minus median of the first fifth */
  rssGrowthMiB: number
  heapGrowthMiB: number
  externalGrowthMiB: number
}

/**
 * Growth after warm-up, from medians of the first and last fifth of the remaining samples: robust to
 * GC sawtooth and to a single outlier, and blind to what start-up and the first connections allocate.
 */
export function memoryGrowth(samples: MemorySample[], warmupMs: number): MemoryGrowth {
  const after = samples.filter((s) => s.atMs >= warmupMs)
  const window = Math.max(1, Math.floor(after.length / 5))
  const first = after.slice(0, window)
  const last = after.slice(-window)
  const growth = (pick: (s: MemorySample) => number): number =>
    Math.round((summarize(last.map(pick)).median - summarize(first.map(pick)).median) * 10) / 10
  return {
    rss: summarize(after.map((s) => s.rssMiB)),
    heap: summarize(after.map((s) => s.heapMiB)),
    external: summarize(after.map((s) => s.externalMiB)),
    rssGrowthMiB: growth((s) => s.rssMiB),
    heapGrowthMiB: growth((s) => s.heapMiB),
    externalGrowthMiB: growth((s) => s.externalMiB),
  }
}
