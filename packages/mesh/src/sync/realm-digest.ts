import { createHash } from 'node:crypto'
import type { SessionRecord } from '@tlsmesh/store'

/** A record's place in the key space: the first 8 bytes of sha256(id), as an unsigned 64-bit integer. */
export function syncKeyOf(id: Uint8Array): bigint {
  return createHash('sha256').update(id).digest().readBigUInt64BE(0)
}

/**
 * Which version of a record a node holds: two nodes holding the same (created, origin, tombstone or
 * not) of an id agree; the value follows from those in practice (an origin never writes two values
 * with one `created`). Expiry is left out: `touch` moves `created` too.
 */
export function versionFingerprintOf(record: SessionRecord): bigint {
  const hash = createHash('sha256')
  hash.update(record.id)
  const fixed = Buffer.allocUnsafe(9)
  fixed.writeDoubleBE(record.created, 0)
  fixed[8] = record.value === undefined ? 0 : 1
  hash.update(fixed)
  hash.update(record.origin)
  return hash.digest().readBigUInt64BE(0)
}

/**
 * Each stored record's sync key and fingerprint, computed once: every reconciliation digests the
 * whole realm, and hashing each record twice made that ~0.5 s of blocked event loop per 100,000
 * records, every 30 s. The replica never changes a stored record in place (a change is a new
 * object), so a record's hashes stay valid for as long as it is held.
 */
const hashesOf = new WeakMap<SessionRecord, { key: bigint; fingerprint: bigint }>()

export interface DigestEntry {
  key: bigint
  fingerprint: bigint
  record: SessionRecord
}

/** A digest built elsewhere: entries sorted by key, and their prefix XORs. */
interface SortedEntries {
  sorted: DigestEntry[]
  prefixXor: bigint[]
}

export interface DigestBuildOptions {
  signal?: AbortSignal
  /** Work this long at most before yielding to the event loop. Default 4 ms. */
  sliceMs?: number
}

/** Keys are sha256 prefixes, so the top 12 bits spread records evenly over 4,096 buckets. */
const BUCKET_BITS = 12n
const BUCKETS = 1 << Number(BUCKET_BITS)
const DEFAULT_SLICE_MS = 4

/**
 * A realm's live set sorted by sync key, with prefix XORs so that any key range's fingerprint and
 * count cost two binary searches: a reconciliation round costs O(ranges x log n), not O(n).
 */
export class RealmDigest {
  private readonly entries: DigestEntry[]
  private readonly prefixXor: bigint[]

  constructor(records: Iterable<SessionRecord> | SortedEntries) {
    if ('sorted' in records) {
      this.entries = records.sorted
      this.prefixXor = records.prefixXor
      return
    }
    this.entries = []
    for (const record of records) this.entries.push(entryOf(record))
    this.entries.sort(byKey)
    this.prefixXor = new Array<bigint>(this.entries.length + 1)
    let xor = 0n
    this.prefixXor[0] = 0n
    for (let i = 0; i < this.entries.length; i++) {
      xor ^= this.entries[i]!.fingerprint
      this.prefixXor[i + 1] = xor
    }
  }

  /**
   * The same digest, built in slices of `sliceMs` with the event loop served in between: hashing
   * and sorting 100,000 records at once held the event loop for 166 ms (and up to 1.2 s on a busy
   * host), a stall in every handshake that waited on this process meanwhile. Records are spread
   * over buckets by their keys' top bits (even, since keys are hashes), and each bucket is sorted
   * on its own. `records` must not change while this runs: pass a copy of the replica's entries.
   */
  static async build(
    records: readonly SessionRecord[],
    options: DigestBuildOptions = {},
  ): Promise<RealmDigest> {
    const slice = new TimeSlice(options.sliceMs ?? DEFAULT_SLICE_MS, options.signal)
    const buckets: DigestEntry[][] = Array.from({ length: BUCKETS }, () => [])
    for (const record of records) {
      const entry = entryOf(record)
      buckets[Number(entry.key >> (64n - BUCKET_BITS))]!.push(entry)
      await slice.maybeYield()
    }
    const sorted: DigestEntry[] = []
    const prefixXor: bigint[] = [0n]
    let xor = 0n
    for (const bucket of buckets) {
      bucket.sort(byKey)
      for (const entry of bucket) {
        sorted.push(entry)
        xor ^= entry.fingerprint
        prefixXor.push(xor)
      }
      await slice.maybeYield()
    }
    return new RealmDigest({ sorted, prefixXor })
  }

  get size(): number {
    return this.entries.length
  }

  /** Index bounds [start, end) of the keys whose top `depth * 4` bits are `prefix`. */
  bounds(depth: number, prefix: bigint): [number, number] {
    if (depth === 0) return [0, this.entries.length]
    const shift = BigInt(64 - depth * 4)
    return [this.lowerBound(prefix << shift), this.lowerBound((prefix + 1n) << shift)]
  }

  fingerprint(start: number, end: number): bigint {
    return this.prefixXor[end]! ^ this.prefixXor[start]!
  }

  items(start: number, end: number): Array<{ key: bigint; fingerprint: bigint }> {
    return this.entries.slice(start, end).map(({ key, fingerprint }) => ({ key, fingerprint }))
  }

  entriesIn(start: number, end: number): ReadonlyArray<Readonly<DigestEntry>> {
    return this.entries.slice(start, end)
  }

  /** Every record with this key (more than one only on a 64-bit hash collision). */
  recordsWithKey(key: bigint): SessionRecord[] {
    const found: SessionRecord[] = []
    for (let i = this.lowerBound(key); i < this.entries.length && this.entries[i]!.key === key; i++) {
      found.push(this.entries[i]!.record)
    }
    return found
  }

  private lowerBound(key: bigint): number {
    let lo = 0
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.entries[mid]!.key < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function entryOf(record: SessionRecord): DigestEntry {
  let hashes = hashesOf.get(record)
  if (hashes === undefined) {
    hashes = { key: syncKeyOf(record.id), fingerprint: versionFingerprintOf(record) }
    hashesOf.set(record, hashes)
  }
  return { key: hashes.key, fingerprint: hashes.fingerprint, record }
}

function byKey(a: DigestEntry, b: DigestEntry): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

/** Long work that hands the event loop back every `sliceMs`, and stops when `signal` aborts. */
class TimeSlice {
  readonly #sliceMs: number
  readonly #signal: AbortSignal | undefined
  #started = performance.now()
  #steps = 0

  constructor(sliceMs: number, signal?: AbortSignal) {
    this.#sliceMs = sliceMs
    this.#signal = signal
  }

  async maybeYield(): Promise<void> {
    // Reading the clock costs more than a step: look every 64 steps.
    if ((++this.#steps & 63) !== 0 || performance.now() - this.#started < this.#sliceMs) return
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.#signal?.throwIfAborted()
    this.#started = performance.now()
  }
}
