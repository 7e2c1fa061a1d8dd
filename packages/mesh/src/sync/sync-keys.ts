import crypto from 'node:crypto'
import type { SessionRecord } from '@tlsmesh/store'

/**
 * One sha256 per record gives both its sync key and, mixed with its version, its fingerprint: the
 * digest hashes each record as it is stored, on the path of every write and every received batch.
 * The hash is taken as a latin1 ('binary') string, one char per byte: crypto.hash's string output
 * costs a fifth of its Buffer output on Node 20 (0.4 us against 1.9 us here).
 */
const oneShot = (crypto as { hash?: (algorithm: 'sha256', data: Uint8Array, encoding: 'binary') => string })
  .hash
function sha256(data: Uint8Array): string {
  return oneShot !== undefined
    ? oneShot('sha256', data, 'binary')
    : crypto.createHash('sha256').update(data).digest('binary')
}

/** Bytes at..at+3 of a latin1 hash, as an unsigned 32-bit big-endian integer. */
function wordAt(hash: string, at: number): number {
  return (
    ((hash.charCodeAt(at) << 24) |
      (hash.charCodeAt(at + 1) << 16) |
      (hash.charCodeAt(at + 2) << 8) |
      hash.charCodeAt(at + 3)) >>>
    0
  )
}

/**
 * Ids hashed lately and their hashes, one per slot (the slot from a few of the id's bytes, the whole
 * id compared): a record is hashed again soon after, by the digest as the store takes it (sync checks
 * its key first; a set replaces a record of the same id), and a compare costs a fraction of a hash.
 */
const MEMO_SLOTS = 1024
/** Covers memcached keys (250 bytes at most): a server names a session by a prefix and its id in text. */
const MEMO_ID_BYTES = 256
const memoIds = new Uint8Array(MEMO_SLOTS * MEMO_ID_BYTES)
const memoLengths = new Int16Array(MEMO_SLOTS).fill(-1)
const memoHashes: string[] = new Array(MEMO_SLOTS).fill('')

function idHashOf(id: Uint8Array): string {
  const length = id.byteLength
  if (length < 2 || length > MEMO_ID_BYTES) return sha256(id)
  const slot = ((id[length - 1]! << 8) ^ (id[length - 2]! << 3) ^ id[length >> 1]!) & (MEMO_SLOTS - 1)
  const base = slot * MEMO_ID_BYTES
  if (memoLengths[slot] === length && sameBytes(id, memoIds, base, length)) return memoHashes[slot]!
  const hash = sha256(id)
  memoIds.set(id, base)
  memoLengths[slot] = length
  memoHashes[slot] = hash
  return hash
}

function sameBytes(id: Uint8Array, ids: Uint8Array, base: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (id[i] !== ids[base + i]) return false
  }
  return true
}

/** A record's place in the key space: the first 8 bytes of sha256(id), as an unsigned 64-bit integer. */
export function syncKeyOf(id: Uint8Array): bigint {
  return keyOf(idHashOf(id))
}

function keyOf(idHash: string): bigint {
  return (BigInt(wordAt(idHash, 0)) << 32n) | BigInt(wordAt(idHash, 4))
}

/**
 * Which version of a record a node holds: two nodes holding the same (created, origin, tombstone or
 * not) of an id agree; the value follows from those in practice (an origin never writes two values
 * with one `created`). Expiry is left out: `touch` moves `created` too.
 */
export function versionFingerprintOf(record: SessionRecord): bigint {
  return fingerprintOf(idHashOf(record.id), record)
}

/**
 * Bytes 8-15 of sha256(id), XORed with `created`, the origin's hash and a tombstone flag, then put
 * through a 64-bit bijection (three rounds of murmur3's finaliser across the halves), so that
 * versions that differ in any of them get unrelated fingerprints and XORs of sets do not cancel.
 * Two versions collide only if their XORed inputs are equal, which for one id needs another origin
 * whose hash matches the difference of the `created` times.
 */
function fingerprintOf(idHash: string, record: SessionRecord): bigint {
  writeFingerprint(idHash, record, scratch, 0)
  return (BigInt(scratch[0]!) << 32n) | BigInt(scratch[1]!)
}

const scratch = new Uint32Array(2)

/** `fingerprintOf` as two unsigned 32-bit words, high first, written to `into` at `at`. */
function writeFingerprint(idHash: string, record: SessionRecord, into: Uint32Array, at: number): void {
  const origin = originHashOf(record.origin)
  const tombstone = record.value === undefined ? 0x9e3779b9 : 0
  let hi = (wordAt(idHash, 8) ^ Math.floor(record.created / 2 ** 32) ^ origin[0] ^ tombstone) >>> 0
  let lo = (wordAt(idHash, 12) ^ record.created ^ origin[1]) >>> 0
  lo = fmix32(lo ^ Math.imul(hi, 0x85ebca6b))
  hi = fmix32(hi ^ Math.imul(lo, 0xc2b2ae35))
  lo = fmix32(lo ^ hi)
  into[at] = hi
  into[at + 1] = lo
}

/**
 * A record's sync key and fingerprint as four unsigned 32-bit words (key high, key low, fingerprint
 * high, low) written to `into` at `at`: what the live digest keeps per record, in typed arrays,
 * instead of two BigInts and an object.
 */
export function writeHashes(record: SessionRecord, into: Uint32Array, at: number): void {
  const idHash = idHashOf(record.id)
  into[at] = wordAt(idHash, 0)
  into[at + 1] = wordAt(idHash, 4)
  writeFingerprint(idHash, record, into, at + 2)
}

function fmix32(value: number): number {
  let h = value
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Origins are a fleet's peer ids: few, each hashed once. The bound keeps a flood of them harmless. */
const MAX_ORIGIN_HASHES = 4096
const originHashes = new Map<string, readonly [number, number]>()

function originHashOf(origin: string): readonly [number, number] {
  let hash = originHashes.get(origin)
  if (hash === undefined) {
    const digest = sha256(Buffer.from(origin, 'utf8'))
    hash = [wordAt(digest, 0), wordAt(digest, 4)]
    if (originHashes.size >= MAX_ORIGIN_HASHES) originHashes.clear()
    originHashes.set(origin, hash)
  }
  return hash
}

export interface RecordHashes {
  readonly key: bigint
  readonly fingerprint: bigint
}

/**
 * Each record's sync key and fingerprint as BigInts, computed once per record object: the from-scratch
 * digest (`RealmDigest`) reads them, and the simulator builds one per reconciliation of the same
 * records. The replica never changes a stored record in place (a change is a new object), so a
 * record's hashes stay valid for as long as it is held. The live digest keeps its own (`writeHashes`).
 */
const cache = new WeakMap<SessionRecord, RecordHashes>()

export function hashesOf(record: SessionRecord): RecordHashes {
  let hashes = cache.get(record)
  if (hashes === undefined) {
    const idHash = idHashOf(record.id)
    hashes = { key: keyOf(idHash), fingerprint: fingerprintOf(idHash, record) }
    cache.set(record, hashes)
  }
  return hashes
}
