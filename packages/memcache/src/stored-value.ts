import { createHash } from 'node:crypto'
import type { SessionRecord } from '@tlsmesh/store'

/**
 * How the 32-bit client flags ride in a record's value. H2O, Apache and the tlsmesh Node adapter
 * store flags 0, and their values never start with 0xff (base64url text, or DER that starts with
 * 0x30), so for them the record value is exactly the bytes they sent: nothing added to what the
 * mesh carries, and the store's value cap is the client's. Any other value (nonzero flags, as
 * memjs serializers and memcache-client use for types, or data starting with 0xff) is stored as
 * 0xff, the flags (4 bytes, big-endian), then the data.
 */
const FLAGGED_MARKER = 0xff
const FLAGGED_HEADER_BYTES = 5

export interface ClientValue {
  flags: number
  data: Uint8Array
}

export function encodeStoredValue(flags: number, data: Uint8Array): Uint8Array {
  if (flags === 0 && data[0] !== FLAGGED_MARKER) {
    // A copy: `data` is a view into a socket read buffer that holds other requests too, and a
    // SessionCache is not bound to copy what it keeps.
    return Buffer.from(data)
  }
  const out = Buffer.allocUnsafe(FLAGGED_HEADER_BYTES + data.byteLength)
  out[0] = FLAGGED_MARKER
  out.writeUInt32BE(flags >>> 0, 1)
  out.set(data, FLAGGED_HEADER_BYTES)
  return out
}

export function decodeStoredValue(value: Uint8Array): ClientValue {
  if (value.byteLength >= FLAGGED_HEADER_BYTES && value[0] === FLAGGED_MARKER) {
    const flags = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0
    return { flags, data: value.subarray(FLAGGED_HEADER_BYTES) }
  }
  return { flags: 0, data: value }
}

/**
 * memcached's cas unique is a counter; a replicated record has none, so it is derived from what
 * identifies one version of a record: its creation time, origin and value (flags included). A
 * rewrite with other bytes gets another cas even within the same millisecond; the same record
 * read twice, or after a `touch` that keeps `created`, gets the same one. Never 0: the binary
 * protocol reads 0 as "no cas".
 */
export function casUniqueOf(record: SessionRecord): bigint {
  let cas = casCache.get(record)
  if (cas === undefined) {
    cas = computeCasUnique(record)
    casCache.set(record, cas)
  }
  return cas
}

/**
 * The store hands out its own record objects and never mutates them (a new version is a new
 * object), so a hash per object is computed once, however often the record is read.
 */
const casCache = new WeakMap<SessionRecord, bigint>()

function computeCasUnique(record: SessionRecord): bigint {
  const created = Buffer.allocUnsafe(8)
  created.writeDoubleBE(record.created)
  const digest = createHash('sha256')
    .update(created)
    .update(record.origin)
    .update(record.value ?? new Uint8Array(0))
    .digest()
  const cas = digest.readBigUInt64BE(0)
  return cas === 0n ? 1n : cas
}
