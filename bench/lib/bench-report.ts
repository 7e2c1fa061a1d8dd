import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

export interface Spread {
  min: number
  median: number
  max: number
  runs: number[]
}

export function spread(runs: number[]): Spread {
  const sorted = [...runs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
  return { min: sorted[0] ?? Number.NaN, median, max: sorted.at(-1) ?? Number.NaN, runs }
}

export function machine(): Record<string, unknown> {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    openssl: process.versions.openssl,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  }
}

/** Writes bench/results/<part>.json and returns its path. */
export function writeResult(part: string, data: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const path = join(RESULTS_DIR, `${part}.json`)
  writeFileSync(path, `${JSON.stringify({ part, machine: machine(), ...data }, null, 2)}\n`)
  return path
}

/**
 * Exits with a usage error (2) unless every flag given is a whole number of at least `min`
 * (undefined: not given).
 */
export function requireWholeNumbers(part: string, flags: Record<string, number | undefined>, min = 1): void {
  for (const [flag, value] of Object.entries(flags)) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) {
      console.error(`${part}: --${flag} must be a whole number of at least ${min}`)
      process.exit(2)
    }
  }
}

/** Progress goes to stderr so that stdout stays machine-readable. */
export function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`)
}

/**
 * The `q` quantile of values sorted already, 0 when there are none: what a load generator answers per
 * window, where an empty window must stay a number in JSON.
 */
export function quantileOfSorted(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
