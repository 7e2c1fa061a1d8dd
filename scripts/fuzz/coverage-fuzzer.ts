// A small coverage-guided fuzzer on V8's own block coverage, for when libFuzzer is not available:
// @jazzer.js/core 4.0.0 installs here, but its prebuilt addon needs glibc 2.38 (Debian 12 has 2.36),
// and 2.1.0 fetches its addon, or an LLVM fork to build it, from GitHub. Same loop as libFuzzer/AFL:
// mutate an input of the corpus, run the target, keep the input if it reached code no input reached
// before. Coverage comes from the inspector's precise block coverage (Profiler.takePreciseCoverage,
// which also resets the counters), about 0.6 ms per run here, so ~1,000 runs per second.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { join } from 'node:path'

export interface FuzzTarget {
  readonly name: string
  /** Runs one input; throws only on a finding (a bug). Must be deterministic for a given input. */
  fuzz(data: Buffer): void
  /** Valid and near-valid inputs to start from. */
  seeds(): Buffer[]
  /** Tokens the mutator inserts (protocol keywords, field tags). */
  dictionary?: Buffer[]
  /** Script URLs whose coverage guides the search (substrings). */
  coverage: string[]
}

export interface FuzzOptions {
  seconds: number
  maxLen: number
  /** <dir>/corpus is read at start and grows; <dir>/crashes gets one file per distinct finding. */
  dir: string
  seed: number
  /** A run slower than this is a finding too (a decoder must not take long on small inputs). */
  slowMs: number
  log: (line: string) => void
}

export interface FuzzReport {
  target: string
  seconds: number
  runs: number
  runsPerSecond: number
  corpus: number
  features: number
  findings: Array<{ signature: string; file: string; message: string }>
}

/** xorshift32: reproducible runs from --seed. */
class Random {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9
  }
  next(): number {
    let x = this.state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.state = x >>> 0
    return this.state
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x0d, 0x10, 0x12, 0x1a, 0x20, 0x7f, 0x80, 0xff]

function varint(value: bigint): Buffer {
  const bytes: number[] = []
  let v = BigInt.asUintN(64, value)
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) byte |= 0x80
    bytes.push(byte)
  } while (v > 0n)
  return Buffer.from(bytes)
}

const INTERESTING_VARINTS = [
  0n,
  1n,
  127n,
  128n,
  255n,
  4096n,
  65535n,
  2n ** 31n - 1n,
  2n ** 32n,
  2n ** 53n,
  -1n,
]

function mutate(
  input: Buffer,
  corpus: Buffer[],
  dictionary: Buffer[],
  random: Random,
  maxLen: number,
): Buffer {
  let data = Buffer.from(input)
  const rounds = 1 + random.below(4)
  for (let r = 0; r < rounds; r++) {
    const at = random.below(data.length + 1)
    switch (random.below(dictionary.length > 0 ? 11 : 10)) {
      case 0: // flip a bit
        if (data.length > 0) data[at % data.length]! ^= 1 << random.below(8)
        break
      case 1: // an interesting byte
        if (data.length > 0)
          data[at % data.length] = INTERESTING_BYTES[random.below(INTERESTING_BYTES.length)]!
        break
      case 2: // a random byte
        if (data.length > 0) data[at % data.length] = random.below(256)
        break
      case 3: // small arithmetic
        if (data.length > 0) data[at % data.length] = (data[at % data.length]! + random.below(33) - 16) & 0xff
        break
      case 4: {
        // insert random bytes
        const n = 1 + random.below(8)
        const bytes = Buffer.from(Array.from({ length: n }, () => random.below(256)))
        data = Buffer.concat([data.subarray(0, at), bytes, data.subarray(at)])
        break
      }
      case 5: {
        // delete a range
        const n = 1 + random.below(Math.max(1, data.length >> 2))
        data = Buffer.concat([data.subarray(0, at), data.subarray(at + n)])
        break
      }
      case 6: {
        // copy a range elsewhere (repeated fields, duplicated commands)
        if (data.length === 0) break
        const from = random.below(data.length)
        const n = 1 + random.below(Math.min(64, data.length - from))
        data = Buffer.concat([data.subarray(0, at), data.subarray(from, from + n), data.subarray(at)])
        break
      }
      case 7: {
        // splice with another corpus entry
        const other = corpus[random.below(corpus.length)]!
        const from = random.below(other.length + 1)
        data = Buffer.concat([data.subarray(0, at), other.subarray(from)])
        break
      }
      case 8: {
        // a varint (protobuf lengths, times, counts), replacing as many bytes
        const value =
          random.below(2) === 0
            ? INTERESTING_VARINTS[random.below(INTERESTING_VARINTS.length)]!
            : BigInt(random.next())
        const bytes = varint(value)
        data = Buffer.concat([
          data.subarray(0, at),
          bytes,
          data.subarray(at + random.below(bytes.length + 1)),
        ])
        break
      }
      case 9: // truncate
        data = data.subarray(0, at)
        break
      default: {
        // a dictionary token
        const token = dictionary[random.below(dictionary.length)]!
        data = Buffer.concat([data.subarray(0, at), token, data.subarray(at)])
      }
    }
  }
  return data.length > maxLen ? data.subarray(0, maxLen) : data
}

/** AFL's hit-count buckets: a loop running 3 times or 30 times is new behaviour, 30 or 31 is not. */
function bucket(count: number): number {
  if (count <= 3) return count
  if (count <= 7) return 4
  if (count <= 15) return 5
  if (count <= 31) return 6
  if (count <= 127) return 7
  return 8
}

interface ScriptCoverage {
  url: string
  functions: Array<{ ranges: Array<{ startOffset: number; endOffset: number; count: number }> }>
}

class Coverage {
  private readonly session = new Session()
  private readonly include: string[]

  constructor(include: string[]) {
    this.include = include
    this.session.connect()
    this.post('Profiler.enable')
    // Counts, block by block; every take returns the counts since the last one and resets them.
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  }

  // The in-process inspector answers synchronously.
  private post(method: string, params: object = {}): unknown {
    let result: unknown
    let error: Error | null = null
    this.session.post(method, params, (err, res) => {
      error = err
      result = res
    })
    if (error !== null) throw error
    return result
  }

  /**
   * The features of the runs since the last take: (block, hit-count bucket) per block of the included
   * scripts. V8 folds a block into its function when their counts are equal, so blocks that ran as
   * often as their function show up as the function's count and the skipped ones as count 0: both
   * are kept.
   */
  take(): string[] {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] }
    const features: string[] = []
    for (const script of result) {
      if (!this.include.some((part) => script.url.includes(part))) continue
      for (const fn of script.functions) {
        for (const range of fn.ranges) {
          features.push(`${script.url}:${range.startOffset}:${range.endOffset}:${bucket(range.count)}`)
        }
      }
    }
    return features
  }

  stop(): void {
    this.post('Profiler.stopPreciseCoverage')
    this.post('Profiler.disable')
    this.session.disconnect()
  }
}

/** A finding's identity: the error's name and the first stack frame inside the project. */
function signatureOf(err: unknown): string {
  if (!(err instanceof Error)) return `non-error:${String(err).slice(0, 80)}`
  const frame =
    (err.stack ?? '')
      .split('\n')
      .slice(1)
      .find((line) => line.includes('/packages/') || line.includes('/scripts/fuzz/')) ?? ''
  return `${err.name}@${frame
    .trim()
    .replace(/^at /, '')
    .replace(/:\d+\)?$/, '')}`
}

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('hex')

export function runFuzzer(target: FuzzTarget, options: FuzzOptions): FuzzReport {
  const corpusDir = join(options.dir, 'corpus')
  const crashDir = join(options.dir, 'crashes')
  mkdirSync(corpusDir, { recursive: true })
  const random = new Random(options.seed)
  const dictionary = target.dictionary ?? []
  const seen = new Set<string>()
  const corpus: Buffer[] = []
  const findings = new Map<string, { signature: string; file: string; message: string }>()
  const coverage = new Coverage(target.coverage)
  let runs = 0

  const record = (data: Buffer, err: unknown, kind: 'crash' | 'slow'): void => {
    const signature = kind === 'slow' ? `slow@${String(err)}` : signatureOf(err)
    if (findings.has(signature)) return
    mkdirSync(crashDir, { recursive: true })
    const file = join(crashDir, `${kind}-${sha1(data)}`)
    writeFileSync(file, data)
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    writeFileSync(`${file}.txt`, `${signature}\n${err instanceof Error ? err.stack : message}\n`)
    findings.set(signature, { signature, file, message })
    options.log(`finding: ${message} -> ${file}`)
  }

  /** Runs one input; true if it reached new features (and was added to the corpus). */
  const execute = (data: Buffer): boolean => {
    runs++
    const started = performance.now()
    try {
      target.fuzz(data)
    } catch (err) {
      record(data, err, 'crash')
    }
    const ms = performance.now() - started
    if (ms > options.slowMs) record(data, `${Math.round(ms)} ms for ${data.length} bytes`, 'slow')
    let fresh = false
    for (const feature of coverage.take()) {
      if (seen.has(feature)) continue
      seen.add(feature)
      fresh = true
    }
    if (fresh) corpus.push(data)
    return fresh
  }

  const initial = [
    ...target.seeds(),
    ...(existsSync(corpusDir) ? readdirSync(corpusDir).map((f) => readFileSync(join(corpusDir, f))) : []),
  ]
  for (const data of initial) execute(data.subarray(0, options.maxLen))
  if (corpus.length === 0) corpus.push(Buffer.alloc(0))
  const loaded = corpus.length
  options.log(`${target.name}: ${initial.length} initial inputs, ${loaded} kept, ${seen.size} features`)

  const started = Date.now()
  const deadline = started + options.seconds * 1000
  let nextReport = started + 10_000
  while (Date.now() < deadline) {
    // Recent entries more often: they tend to sit at the frontier.
    const pick =
      random.below(2) === 0
        ? corpus.length - 1 - random.below(Math.min(16, corpus.length))
        : random.below(corpus.length)
    const input = mutate(corpus[pick]!, corpus, dictionary, random, options.maxLen)
    if (execute(input)) writeFileSync(join(corpusDir, sha1(input)), input)
    if (Date.now() >= nextReport) {
      nextReport += 10_000
      options.log(
        `${target.name}: ${runs} runs, ${Math.round(runs / ((Date.now() - started) / 1000))}/s, corpus ${corpus.length}, features ${seen.size}, findings ${findings.size}`,
      )
    }
  }
  coverage.stop()
  const seconds = (Date.now() - started) / 1000
  return {
    target: target.name,
    seconds,
    runs,
    runsPerSecond: Math.round(runs / seconds),
    corpus: corpus.length,
    features: seen.size,
    findings: [...findings.values()],
  }
}

/** Runs one saved input and rethrows what the target throws (for a debugger or a regression test). */
export function reproduce(target: FuzzTarget, file: string): void {
  target.fuzz(readFileSync(file))
}
