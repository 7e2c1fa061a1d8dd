import type { SessionRecord } from '@tlsmesh/store'

/**
 * Records as they cross between the threads of one process: a table of the realms and origins they
 * name, and their bytes in one buffer, which a port transfers without copying. Values are session
 * secrets: they go only to another thread of the same process. Not the wire's batch codec: the
 * records a turn hands over span realms and origins, run past a batch's limits, and are not signed.
 */
export interface PackedRecords {
  strings: string[]
  buffer: ArrayBuffer
  count: number
}

/**
 * Each record's header: realm index u16, origin index u16, id length u16, value length i32 (-1: a
 * tombstone), created f64, expires f64; its id and value bytes follow.
 */
const HEADER_BYTES = 2 + 2 + 2 + 4 + 8 + 8

export function packRecords(records: readonly SessionRecord[]): PackedRecords {
  const strings: string[] = []
  const index = new Map<string, number>()
  const indexOf = (s: string): number => {
    let i = index.get(s)
    if (i === undefined) {
      i = strings.push(s) - 1
      index.set(s, i)
    }
    return i
  }
  // A stored record's id and value are copies made on each read: read once.
  const parts = records.map((r) => ({ r, id: r.id, value: r.value }))
  let bytes = 0
  for (const { id, value } of parts) bytes += HEADER_BYTES + id.byteLength + (value?.byteLength ?? 0)
  const buffer = new ArrayBuffer(bytes)
  const view = new DataView(buffer)
  const out = new Uint8Array(buffer)
  let at = 0
  for (const { r, id, value } of parts) {
    view.setUint16(at, indexOf(r.realm))
    view.setUint16(at + 2, indexOf(r.origin))
    view.setUint16(at + 4, id.byteLength)
    view.setInt32(at + 6, value === undefined ? -1 : value.byteLength)
    view.setFloat64(at + 10, r.created)
    view.setFloat64(at + 18, r.expires)
    at += HEADER_BYTES
    out.set(id, at)
    at += id.byteLength
    if (value !== undefined) {
      out.set(value, at)
      at += value.byteLength
    }
  }
  return { strings, buffer, count: records.length }
}

/** The records `packed` holds, in order; their ids and values are views onto its buffer. */
export function* unpackRecords(packed: PackedRecords): Generator<SessionRecord> {
  const view = new DataView(packed.buffer)
  const bytes = new Uint8Array(packed.buffer)
  let at = 0
  for (let n = 0; n < packed.count; n++) {
    const realm = packed.strings[view.getUint16(at)]!
    const origin = packed.strings[view.getUint16(at + 2)]!
    const idLength = view.getUint16(at + 4)
    const valueLength = view.getInt32(at + 6)
    const created = view.getFloat64(at + 10)
    const expires = view.getFloat64(at + 18)
    at += HEADER_BYTES
    const record: SessionRecord = { realm, id: bytes.subarray(at, at + idLength), created, expires, origin }
    at += idLength
    if (valueLength >= 0) {
      record.value = bytes.subarray(at, at + valueLength)
      at += valueLength
    }
    yield record
  }
}
