import crypto from 'node:crypto'
import type { SessionRecord } from '@tlsmesh/store'

/**
 * One sha256 per record gives both its sync key and, mixed with its version, its fingerprint: the
 * digest hashes each record as it is stored, on the path of every write and every received batch,
 * where two hashes cost 9 us of a receive budget of 12.
 */
const oneShot = (crypto as { hash?: (algorithm: 'sha256', data: Uint8Array, encoding: 'buffer') => Buffer })
  .hash
function sha256(data: Uint8Array): Buffer {
  return oneShot !== undefined
    ? oneShot('sha256', data, 'buffer')
    : crypto.createHash('sha256').update(data).digest()
}

/**
 * The last id hashed and its hash: a record is hashed again right after, by the digest as the store
 * takes it (sync checks its key first; a set replaces a record of the same id), and comparing 32
 * bytes costs a fraction of a hash. Read only within this module.
 */
const last: { id: Uint8Array; length: number; hash: Buffer } = {
  id: new Uint8Array(64),
  length: -1,
  hash: Buffer.alloc(0),
}

function idHashOf(id: Uint8Array): Buffer {
  const length = id.byteLength
  if (length === last.length && sameBytes(id, last.id, length)) return last.hash
  const hash = sha256(id)
  if (length <= last.id.byteLength) {
    last.id.set(id)
    last.length = length
    last.hash = hash
  }
  return hash
}

function sameBytes(a: Uint8Array, b: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return false
  }
  return true
}

/** A record's place in the key space: the first 8 bytes of sha256(id), as an unsigned 64-bit integer. */
export function syncKeyOf(id: Uint8Array): bigint {
  return idHashOf(id).readBigUInt64BE(0)
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
function fingerprintOf(idHash: Buffer, record: SessionRecord): bigint {
  writeFingerprint(idHash, record, scratch, 0)
  return (BigInt(scratch[0]!) << 32n) | BigInt(scratch[1]!)
}

const scratch = new Uint32Array(2)

/** `fingerprintOf` as two unsigned 32-bit words, high first, written to `into` at `at`. */
function writeFingerprint(idHash: Buffer, record: SessionRecord, into: Uint32Array, at: number): void {
  const origin = originHashOf(record.origin)
  const tombstone = record.value === undefined ? 0x9e3779b9 : 0
  let hi = (idHash.readUInt32BE(8) ^ Math.floor(record.created / 2 ** 32) ^ origin[0] ^ tombstone) >>> 0
  let lo = (idHash.readUInt32BE(12) ^ record.created ^ origin[1]) >>> 0
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
  into[at] = idHash.readUInt32BE(0)
  into[at + 1] = idHash.readUInt32BE(4)
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
    hash = [digest.readUInt32BE(0), digest.readUInt32BE(4)]
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
    const idHash = sha256(record.id)
    hashes = { key: idHash.readBigUInt64BE(0), fingerprint: fingerprintOf(idHash, record) }
    cache.set(record, hashes)
  }
  return hashes
}
