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

/** What a packed record holds of its own, whatever indexes its packing puts before it. */
export interface RecordFields {
  id: Uint8Array
  value?: Uint8Array
  created: number
  expires: number
}

/** id length u16, value length i32 (-1: a tombstone), created f64, expires f64; then id and value bytes. */
const FIELDS_BYTES = 2 + 4 + 8 + 8

/** The bytes `writeRecordFields` takes for `record`. */
export function recordFieldsBytes({ id, value }: RecordFields): number {
  return FIELDS_BYTES + id.byteLength + (value?.byteLength ?? 0)
}

/** Writes `record`'s fields at `at` of `buffer` (`view` onto it); returns where the next one starts. */
export function writeRecordFields(
  view: DataView,
  buffer: Uint8Array,
  at: number,
  record: RecordFields,
): number {
  const { id, value } = record
  view.setUint16(at, id.byteLength)
  view.setInt32(at + 2, value === undefined ? -1 : value.byteLength)
  view.setFloat64(at + 6, record.created)
  view.setFloat64(at + 14, record.expires)
  buffer.set(id, at + FIELDS_BYTES)
  if (value !== undefined) buffer.set(value, at + FIELDS_BYTES + id.byteLength)
  return at + recordFieldsBytes(record)
}

/**
 * The fields written at `at`, id and value as views onto `buffer`; the next record starts at `at`
 * plus `recordFieldsBytes` of them. Throws a RangeError for a record that runs past the buffer.
 */
export function readRecordFields(view: DataView, buffer: Uint8Array, at: number): RecordFields {
  const idLength = view.getUint16(at)
  const valueLength = view.getInt32(at + 2)
  const idAt = at + FIELDS_BYTES
  if (idAt + idLength + Math.max(valueLength, 0) > buffer.byteLength) {
    throw new RangeError('a packed record runs past its buffer')
  }
  const fields: RecordFields = {
    id: buffer.subarray(idAt, idAt + idLength),
    created: view.getFloat64(at + 6),
    expires: view.getFloat64(at + 14),
  }
  if (valueLength >= 0) fields.value = buffer.subarray(idAt + idLength, idAt + idLength + valueLength)
  return fields
}

/** Each record: realm index u16, origin index u16, then its fields (`writeRecordFields`). */
const INDEX_BYTES = 2 + 2

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
  const parts = records.map((r) => ({
    r,
    fields: { id: r.id, value: r.value, created: r.created, expires: r.expires },
  }))
  let bytes = 0
  for (const { fields } of parts) bytes += INDEX_BYTES + recordFieldsBytes(fields)
  const buffer = new ArrayBuffer(bytes)
  const view = new DataView(buffer)
  const out = new Uint8Array(buffer)
  let at = 0
  for (const { r, fields } of parts) {
    view.setUint16(at, indexOf(r.realm))
    view.setUint16(at + 2, indexOf(r.origin))
    at = writeRecordFields(view, out, at + INDEX_BYTES, fields)
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
    const fields = readRecordFields(view, bytes, at + INDEX_BYTES)
    at += INDEX_BYTES + recordFieldsBytes(fields)
    yield { realm, origin, ...fields }
  }
}
