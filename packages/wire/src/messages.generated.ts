import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface WireRecord {
  id: Uint8Array<ArrayBuffer>
  value?: Uint8Array<ArrayBuffer>
  created: bigint
  expires: bigint
  origin?: string
}

export namespace WireRecord {
  let _codec: Codec<WireRecord, WireRecord>

  export const codec = (): Codec<WireRecord, WireRecord> => {
    if (_codec == null) {
      _codec = message<WireRecord, WireRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if (obj.value != null) {
          w.uint32(18)
          w.bytes(obj.value)
        }

        if ((obj.created != null && obj.created !== 0n)) {
          w.uint32(24)
          w.uint64(obj.created)
        }

        if ((obj.expires != null && obj.expires !== 0n)) {
          w.uint32(32)
          w.uint64(obj.expires)
        }

        if (obj.origin != null) {
          w.uint32(42)
          w.string(obj.origin)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: new Uint8Array(0),
          created: 0n,
          expires: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.value = reader.bytes()
              break
            }
            case 3: {
              obj.created = reader.uint64()
              break
            }
            case 4: {
              obj.expires = reader.uint64()
              break
            }
            case 5: {
              obj.origin = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.value`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.created`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.expires`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.origin`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface WireRecordIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface WireRecordValueFieldEvent {
    field: '$.value'
    value: Uint8Array<ArrayBuffer>
  }

  export interface WireRecordCreatedFieldEvent {
    field: '$.created'
    value: bigint
  }

  export interface WireRecordExpiresFieldEvent {
    field: '$.expires'
    value: bigint
  }

  export interface WireRecordOriginFieldEvent {
    field: '$.origin'
    value: string
  }

  export function encode (obj: WireRecord): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, WireRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WireRecord>): WireRecord {
    return decodeMessage(buf, WireRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WireRecord>): Generator<WireRecordIdFieldEvent | WireRecordValueFieldEvent | WireRecordCreatedFieldEvent | WireRecordExpiresFieldEvent | WireRecordOriginFieldEvent> {
    return streamMessage(buf, WireRecord.codec(), opts)
  }
}

export interface RecordBatch {
  version: number
  realm: string
  records: WireRecord[]
}

export namespace RecordBatch {
  let _codec: Codec<RecordBatch, RecordBatch>

  export const codec = (): Codec<RecordBatch, RecordBatch> => {
    if (_codec == null) {
      _codec = message<RecordBatch, RecordBatch>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.realm != null && obj.realm !== '')) {
          w.uint32(18)
          w.string(obj.realm)
        }

        if (obj.records != null && obj.records.length > 0) {
          for (const value of obj.records) {
            w.uint32(26)
            WireRecord.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          realm: '',
          records: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.realm = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - repeated field "records" had too many elements')
              }

              obj.records.push(WireRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.records$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          records: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.realm`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.records != null && obj.records === opts.limits.records) {
                throw new MaxLengthError('Streaming decode error - repeated field "records" had too many elements')
              }

              for (const evt of WireRecord.codec().stream(reader, reader.uint32(), `${prefix}.records[]`, {
                limits: opts.limits?.records$
              })) {
                yield {
                  ...evt,
                  index: obj.records
                }
              }

              obj.records++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RecordBatchVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface RecordBatchRealmFieldEvent {
    field: '$.realm'
    value: string
  }

  export interface RecordBatchRecordsIdFieldEvent {
    field: '$.records[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RecordBatchRecordsValueFieldEvent {
    field: '$.records[].value'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RecordBatchRecordsCreatedFieldEvent {
    field: '$.records[].created'
    value: bigint
    index: number
  }

  export interface RecordBatchRecordsExpiresFieldEvent {
    field: '$.records[].expires'
    value: bigint
    index: number
  }

  export interface RecordBatchRecordsOriginFieldEvent {
    field: '$.records[].origin'
    value: string
    index: number
  }

  export function encode (obj: RecordBatch): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RecordBatch.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordBatch>): RecordBatch {
    return decodeMessage(buf, RecordBatch.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordBatch>): Generator<RecordBatchVersionFieldEvent | RecordBatchRealmFieldEvent | RecordBatchRecordsIdFieldEvent | RecordBatchRecordsValueFieldEvent | RecordBatchRecordsCreatedFieldEvent | RecordBatchRecordsExpiresFieldEvent | RecordBatchRecordsOriginFieldEvent> {
    return streamMessage(buf, RecordBatch.codec(), opts)
  }
}
