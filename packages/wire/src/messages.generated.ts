import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface WireRecord {
  id: Uint8Array<ArrayBuffer>
  value?: Uint8Array<ArrayBuffer>
  created: bigint
  expires: bigint
  origin?: string
  proof?: number
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

        if (obj.proof != null) {
          w.uint32(48)
          w.uint32(obj.proof)
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
            case 6: {
              obj.proof = reader.uint32()
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
            case 6: {
              yield {
                field: `${prefix}.proof`,
                value: reader.uint32()
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

  export interface WireRecordProofFieldEvent {
    field: '$.proof'
    value: number
  }

  export function encode (obj: WireRecord): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, WireRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WireRecord>): WireRecord {
    return decodeMessage(buf, WireRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WireRecord>): Generator<WireRecordIdFieldEvent | WireRecordValueFieldEvent | WireRecordCreatedFieldEvent | WireRecordExpiresFieldEvent | WireRecordOriginFieldEvent | WireRecordProofFieldEvent> {
    return streamMessage(buf, WireRecord.codec(), opts)
  }
}

export interface RecordProof {
  origin: string
  signature: Uint8Array<ArrayBuffer>
  digests: Uint8Array<ArrayBuffer>
  earlier?: number
}

export namespace RecordProof {
  let _codec: Codec<RecordProof, RecordProof>

  export const codec = (): Codec<RecordProof, RecordProof> => {
    if (_codec == null) {
      _codec = message<RecordProof, RecordProof>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.origin != null && obj.origin !== '')) {
          w.uint32(10)
          w.string(obj.origin)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if ((obj.digests != null && obj.digests.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.digests)
        }

        if (obj.earlier != null) {
          w.uint32(32)
          w.uint32(obj.earlier)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          origin: '',
          signature: new Uint8Array(0),
          digests: new Uint8Array(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.origin = reader.string()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
              break
            }
            case 3: {
              obj.digests = reader.bytes()
              break
            }
            case 4: {
              obj.earlier = reader.uint32()
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
                field: `${prefix}.origin`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.digests`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.earlier`,
                value: reader.uint32()
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

  export interface RecordProofOriginFieldEvent {
    field: '$.origin'
    value: string
  }

  export interface RecordProofSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordProofDigestsFieldEvent {
    field: '$.digests'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordProofEarlierFieldEvent {
    field: '$.earlier'
    value: number
  }

  export function encode (obj: RecordProof): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RecordProof.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordProof>): RecordProof {
    return decodeMessage(buf, RecordProof.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordProof>): Generator<RecordProofOriginFieldEvent | RecordProofSignatureFieldEvent | RecordProofDigestsFieldEvent | RecordProofEarlierFieldEvent> {
    return streamMessage(buf, RecordProof.codec(), opts)
  }
}

export interface RecordBatch {
  version: number
  realm: string
  records: WireRecord[]
  signature: Uint8Array<ArrayBuffer>
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

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          realm: '',
          records: [],
          signature: new Uint8Array(0)
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
            case 4: {
              obj.signature = reader.bytes()
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
            case 4: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
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

  export interface RecordBatchRecordsProofFieldEvent {
    field: '$.records[].proof'
    value: number
    index: number
  }

  export interface RecordBatchSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: RecordBatch): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RecordBatch.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordBatch>): RecordBatch {
    return decodeMessage(buf, RecordBatch.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordBatch>): Generator<RecordBatchVersionFieldEvent | RecordBatchRealmFieldEvent | RecordBatchRecordsIdFieldEvent | RecordBatchRecordsValueFieldEvent | RecordBatchRecordsCreatedFieldEvent | RecordBatchRecordsExpiresFieldEvent | RecordBatchRecordsOriginFieldEvent | RecordBatchRecordsProofFieldEvent | RecordBatchSignatureFieldEvent> {
    return streamMessage(buf, RecordBatch.codec(), opts)
  }
}

export enum SyncKind {
  SYNC_KIND_UNSPECIFIED = 'SYNC_KIND_UNSPECIFIED',
  QUERY = 'QUERY',
  ANSWER = 'ANSWER',
  RECORDS = 'RECORDS',
  DONE = 'DONE'
}

enum __SyncKindValues {
  SYNC_KIND_UNSPECIFIED = 0,
  QUERY = 1,
  ANSWER = 2,
  RECORDS = 3,
  DONE = 4
}

export namespace SyncKind {
  export const codec = (): Codec<SyncKind, SyncKind> => {
    return enumeration<SyncKind>(__SyncKindValues)
  }
}

export interface SyncItem {
  key: bigint
  fingerprint: bigint
}

export namespace SyncItem {
  let _codec: Codec<SyncItem, SyncItem>

  export const codec = (): Codec<SyncItem, SyncItem> => {
    if (_codec == null) {
      _codec = message<SyncItem, SyncItem>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key !== 0n)) {
          w.uint32(9)
          w.fixed64(obj.key)
        }

        if ((obj.fingerprint != null && obj.fingerprint !== 0n)) {
          w.uint32(17)
          w.fixed64(obj.fingerprint)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: 0n,
          fingerprint: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.key = reader.fixed64()
              break
            }
            case 2: {
              obj.fingerprint = reader.fixed64()
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
                field: `${prefix}.key`,
                value: reader.fixed64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.fingerprint`,
                value: reader.fixed64()
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

  export interface SyncItemKeyFieldEvent {
    field: '$.key'
    value: bigint
  }

  export interface SyncItemFingerprintFieldEvent {
    field: '$.fingerprint'
    value: bigint
  }

  export function encode (obj: SyncItem): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncItem.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncItem>): SyncItem {
    return decodeMessage(buf, SyncItem.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncItem>): Generator<SyncItemKeyFieldEvent | SyncItemFingerprintFieldEvent> {
    return streamMessage(buf, SyncItem.codec(), opts)
  }
}

export interface SyncRange {
  depth: number
  prefix: bigint
  fingerprint: bigint
  count: number
  items: SyncItem[]
  listed: boolean
}

export namespace SyncRange {
  let _codec: Codec<SyncRange, SyncRange>

  export const codec = (): Codec<SyncRange, SyncRange> => {
    if (_codec == null) {
      _codec = message<SyncRange, SyncRange>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.depth != null && obj.depth !== 0)) {
          w.uint32(8)
          w.uint32(obj.depth)
        }

        if ((obj.prefix != null && obj.prefix !== 0n)) {
          w.uint32(16)
          w.uint64(obj.prefix)
        }

        if ((obj.fingerprint != null && obj.fingerprint !== 0n)) {
          w.uint32(25)
          w.fixed64(obj.fingerprint)
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(32)
          w.uint32(obj.count)
        }

        if (obj.items != null && obj.items.length > 0) {
          for (const value of obj.items) {
            w.uint32(42)
            SyncItem.codec().encode(value, w)
          }
        }

        if ((obj.listed != null && obj.listed !== false)) {
          w.uint32(48)
          w.bool(obj.listed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          depth: 0,
          prefix: 0n,
          fingerprint: 0n,
          count: 0,
          items: [],
          listed: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.depth = reader.uint32()
              break
            }
            case 2: {
              obj.prefix = reader.uint64()
              break
            }
            case 3: {
              obj.fingerprint = reader.fixed64()
              break
            }
            case 4: {
              obj.count = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.items != null && obj.items.length === opts.limits.items) {
                throw new MaxLengthError('Decode error - repeated field "items" had too many elements')
              }

              obj.items.push(SyncItem.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.items$
              }))
              break
            }
            case 6: {
              obj.listed = reader.bool()
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
          items: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.depth`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.prefix`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.fingerprint`,
                value: reader.fixed64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.count`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              if (opts.limits?.items != null && obj.items === opts.limits.items) {
                throw new MaxLengthError('Streaming decode error - repeated field "items" had too many elements')
              }

              for (const evt of SyncItem.codec().stream(reader, reader.uint32(), `${prefix}.items[]`, {
                limits: opts.limits?.items$
              })) {
                yield {
                  ...evt,
                  index: obj.items
                }
              }

              obj.items++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.listed`,
                value: reader.bool()
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

  export interface SyncRangeDepthFieldEvent {
    field: '$.depth'
    value: number
  }

  export interface SyncRangePrefixFieldEvent {
    field: '$.prefix'
    value: bigint
  }

  export interface SyncRangeFingerprintFieldEvent {
    field: '$.fingerprint'
    value: bigint
  }

  export interface SyncRangeCountFieldEvent {
    field: '$.count'
    value: number
  }

  export interface SyncRangeItemsKeyFieldEvent {
    field: '$.items[].key'
    value: bigint
    index: number
  }

  export interface SyncRangeItemsFingerprintFieldEvent {
    field: '$.items[].fingerprint'
    value: bigint
    index: number
  }

  export interface SyncRangeListedFieldEvent {
    field: '$.listed'
    value: boolean
  }

  export function encode (obj: SyncRange): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncRange.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncRange>): SyncRange {
    return decodeMessage(buf, SyncRange.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncRange>): Generator<SyncRangeDepthFieldEvent | SyncRangePrefixFieldEvent | SyncRangeFingerprintFieldEvent | SyncRangeCountFieldEvent | SyncRangeItemsKeyFieldEvent | SyncRangeItemsFingerprintFieldEvent | SyncRangeListedFieldEvent> {
    return streamMessage(buf, SyncRange.codec(), opts)
  }
}

export interface SyncMessage {
  version: number
  kind: SyncKind
  realm: string
  ranges: SyncRange[]
  records: WireRecord[]
  wanted: bigint[]
  proofs: RecordProof[]
}

export namespace SyncMessage {
  let _codec: Codec<SyncMessage, SyncMessage>

  export const codec = (): Codec<SyncMessage, SyncMessage> => {
    if (_codec == null) {
      _codec = message<SyncMessage, SyncMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.kind != null && __SyncKindValues[obj.kind] !== 0) {
          w.uint32(16)
          SyncKind.codec().encode(obj.kind, w)
        }

        if ((obj.realm != null && obj.realm !== '')) {
          w.uint32(26)
          w.string(obj.realm)
        }

        if (obj.ranges != null && obj.ranges.length > 0) {
          for (const value of obj.ranges) {
            w.uint32(34)
            SyncRange.codec().encode(value, w)
          }
        }

        if (obj.records != null && obj.records.length > 0) {
          for (const value of obj.records) {
            w.uint32(42)
            WireRecord.codec().encode(value, w)
          }
        }

        if (obj.wanted != null && obj.wanted.length > 0) {
          for (const value of obj.wanted) {
            w.uint32(49)
            w.fixed64(value)
          }
        }

        if (obj.proofs != null && obj.proofs.length > 0) {
          for (const value of obj.proofs) {
            w.uint32(58)
            RecordProof.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          kind: SyncKind.SYNC_KIND_UNSPECIFIED,
          realm: '',
          ranges: [],
          records: [],
          wanted: [],
          proofs: []
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
              obj.kind = SyncKind.codec().decode(reader)
              break
            }
            case 3: {
              obj.realm = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.ranges != null && obj.ranges.length === opts.limits.ranges) {
                throw new MaxLengthError('Decode error - repeated field "ranges" had too many elements')
              }

              obj.ranges.push(SyncRange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ranges$
              }))
              break
            }
            case 5: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - repeated field "records" had too many elements')
              }

              obj.records.push(WireRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.records$
              }))
              break
            }
            case 6: {
              if (opts.limits?.wanted != null && obj.wanted.length === opts.limits.wanted) {
                throw new MaxLengthError('Decode error - repeated field "wanted" had too many elements')
              }

              obj.wanted.push(reader.fixed64())
              break
            }
            case 7: {
              if (opts.limits?.proofs != null && obj.proofs.length === opts.limits.proofs) {
                throw new MaxLengthError('Decode error - repeated field "proofs" had too many elements')
              }

              obj.proofs.push(RecordProof.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.proofs$
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
          ranges: 0,
          records: 0,
          wanted: 0,
          proofs: 0
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
                field: `${prefix}.kind`,
                value: SyncKind.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.realm`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.ranges != null && obj.ranges === opts.limits.ranges) {
                throw new MaxLengthError('Streaming decode error - repeated field "ranges" had too many elements')
              }

              for (const evt of SyncRange.codec().stream(reader, reader.uint32(), `${prefix}.ranges[]`, {
                limits: opts.limits?.ranges$
              })) {
                yield {
                  ...evt,
                  index: obj.ranges
                }
              }

              obj.ranges++

              break
            }
            case 5: {
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
            case 6: {
              if (opts.limits?.wanted != null && obj.wanted === opts.limits.wanted) {
                throw new MaxLengthError('Streaming decode error - repeated field "wanted" had too many elements')
              }

              yield {
                field: `${prefix}.wanted[]`,
                index: obj.wanted,
                value: reader.fixed64()
              }

              obj.wanted++

              break
            }
            case 7: {
              if (opts.limits?.proofs != null && obj.proofs === opts.limits.proofs) {
                throw new MaxLengthError('Streaming decode error - repeated field "proofs" had too many elements')
              }

              for (const evt of RecordProof.codec().stream(reader, reader.uint32(), `${prefix}.proofs[]`, {
                limits: opts.limits?.proofs$
              })) {
                yield {
                  ...evt,
                  index: obj.proofs
                }
              }

              obj.proofs++

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

  export interface SyncMessageVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface SyncMessageKindFieldEvent {
    field: '$.kind'
    value: SyncKind
  }

  export interface SyncMessageRealmFieldEvent {
    field: '$.realm'
    value: string
  }

  export interface SyncMessageRangesDepthFieldEvent {
    field: '$.ranges[].depth'
    value: number
    index: number
  }

  export interface SyncMessageRangesPrefixFieldEvent {
    field: '$.ranges[].prefix'
    value: bigint
    index: number
  }

  export interface SyncMessageRangesFingerprintFieldEvent {
    field: '$.ranges[].fingerprint'
    value: bigint
    index: number
  }

  export interface SyncMessageRangesCountFieldEvent {
    field: '$.ranges[].count'
    value: number
    index: number
  }

  export interface SyncMessageRangesItemsKeyFieldEvent {
    field: '$.ranges[].items[].key'
    value: bigint
    index: number
  }

  export interface SyncMessageRangesItemsFingerprintFieldEvent {
    field: '$.ranges[].items[].fingerprint'
    value: bigint
    index: number
  }

  export interface SyncMessageRangesListedFieldEvent {
    field: '$.ranges[].listed'
    value: boolean
    index: number
  }

  export interface SyncMessageRecordsIdFieldEvent {
    field: '$.records[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageRecordsValueFieldEvent {
    field: '$.records[].value'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageRecordsCreatedFieldEvent {
    field: '$.records[].created'
    value: bigint
    index: number
  }

  export interface SyncMessageRecordsExpiresFieldEvent {
    field: '$.records[].expires'
    value: bigint
    index: number
  }

  export interface SyncMessageRecordsOriginFieldEvent {
    field: '$.records[].origin'
    value: string
    index: number
  }

  export interface SyncMessageRecordsProofFieldEvent {
    field: '$.records[].proof'
    value: number
    index: number
  }

  export interface SyncMessageWantedFieldEvent {
    field: '$.wanted[]'
    index: number
    value: bigint
  }

  export interface SyncMessageProofsOriginFieldEvent {
    field: '$.proofs[].origin'
    value: string
    index: number
  }

  export interface SyncMessageProofsSignatureFieldEvent {
    field: '$.proofs[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageProofsDigestsFieldEvent {
    field: '$.proofs[].digests'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageProofsEarlierFieldEvent {
    field: '$.proofs[].earlier'
    value: number
    index: number
  }

  export function encode (obj: SyncMessage): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncMessage>): SyncMessage {
    return decodeMessage(buf, SyncMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncMessage>): Generator<SyncMessageVersionFieldEvent | SyncMessageKindFieldEvent | SyncMessageRealmFieldEvent | SyncMessageRangesDepthFieldEvent | SyncMessageRangesPrefixFieldEvent | SyncMessageRangesFingerprintFieldEvent | SyncMessageRangesCountFieldEvent | SyncMessageRangesItemsKeyFieldEvent | SyncMessageRangesItemsFingerprintFieldEvent | SyncMessageRangesListedFieldEvent | SyncMessageRecordsIdFieldEvent | SyncMessageRecordsValueFieldEvent | SyncMessageRecordsCreatedFieldEvent | SyncMessageRecordsExpiresFieldEvent | SyncMessageRecordsOriginFieldEvent | SyncMessageRecordsProofFieldEvent | SyncMessageWantedFieldEvent | SyncMessageProofsOriginFieldEvent | SyncMessageProofsSignatureFieldEvent | SyncMessageProofsDigestsFieldEvent | SyncMessageProofsEarlierFieldEvent> {
    return streamMessage(buf, SyncMessage.codec(), opts)
  }
}

export enum BroadcastKind {
  BROADCAST_KIND_UNSPECIFIED = 'BROADCAST_KIND_UNSPECIFIED',
  GOSSIP = 'GOSSIP',
  IHAVE = 'IHAVE',
  GRAFT = 'GRAFT',
  PRUNE = 'PRUNE'
}

enum __BroadcastKindValues {
  BROADCAST_KIND_UNSPECIFIED = 0,
  GOSSIP = 1,
  IHAVE = 2,
  GRAFT = 3,
  PRUNE = 4
}

export namespace BroadcastKind {
  export const codec = (): Codec<BroadcastKind, BroadcastKind> => {
    return enumeration<BroadcastKind>(__BroadcastKindValues)
  }
}

export interface BroadcastFrame {
  version: number
  kind: BroadcastKind
  realm: string
  origin: Uint8Array<ArrayBuffer>
  data: Uint8Array<ArrayBuffer>
  ids: Uint8Array<ArrayBuffer>[]
  hops: number
  full: boolean
}

export namespace BroadcastFrame {
  let _codec: Codec<BroadcastFrame, BroadcastFrame>

  export const codec = (): Codec<BroadcastFrame, BroadcastFrame> => {
    if (_codec == null) {
      _codec = message<BroadcastFrame, BroadcastFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.kind != null && __BroadcastKindValues[obj.kind] !== 0) {
          w.uint32(16)
          BroadcastKind.codec().encode(obj.kind, w)
        }

        if ((obj.realm != null && obj.realm !== '')) {
          w.uint32(26)
          w.string(obj.realm)
        }

        if ((obj.origin != null && obj.origin.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.origin)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.data)
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if ((obj.hops != null && obj.hops !== 0)) {
          w.uint32(64)
          w.uint32(obj.hops)
        }

        if ((obj.full != null && obj.full !== false)) {
          w.uint32(72)
          w.bool(obj.full)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          kind: BroadcastKind.BROADCAST_KIND_UNSPECIFIED,
          realm: '',
          origin: new Uint8Array(0),
          data: new Uint8Array(0),
          ids: [],
          hops: 0,
          full: false
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
              obj.kind = BroadcastKind.codec().decode(reader)
              break
            }
            case 3: {
              obj.realm = reader.string()
              break
            }
            case 4: {
              obj.origin = reader.bytes()
              break
            }
            case 5: {
              obj.data = reader.bytes()
              break
            }
            case 7: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - repeated field "ids" had too many elements')
              }

              obj.ids.push(reader.bytes())
              break
            }
            case 8: {
              obj.hops = reader.uint32()
              break
            }
            case 9: {
              obj.full = reader.bool()
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
          ids: 0
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
                field: `${prefix}.kind`,
                value: BroadcastKind.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.realm`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.origin`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              if (opts.limits?.ids != null && obj.ids === opts.limits.ids) {
                throw new MaxLengthError('Streaming decode error - repeated field "ids" had too many elements')
              }

              yield {
                field: `${prefix}.ids[]`,
                index: obj.ids,
                value: reader.bytes()
              }

              obj.ids++

              break
            }
            case 8: {
              yield {
                field: `${prefix}.hops`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.full`,
                value: reader.bool()
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

  export interface BroadcastFrameVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface BroadcastFrameKindFieldEvent {
    field: '$.kind'
    value: BroadcastKind
  }

  export interface BroadcastFrameRealmFieldEvent {
    field: '$.realm'
    value: string
  }

  export interface BroadcastFrameOriginFieldEvent {
    field: '$.origin'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BroadcastFrameDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BroadcastFrameIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BroadcastFrameHopsFieldEvent {
    field: '$.hops'
    value: number
  }

  export interface BroadcastFrameFullFieldEvent {
    field: '$.full'
    value: boolean
  }

  export function encode (obj: BroadcastFrame): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BroadcastFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BroadcastFrame>): BroadcastFrame {
    return decodeMessage(buf, BroadcastFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BroadcastFrame>): Generator<BroadcastFrameVersionFieldEvent | BroadcastFrameKindFieldEvent | BroadcastFrameRealmFieldEvent | BroadcastFrameOriginFieldEvent | BroadcastFrameDataFieldEvent | BroadcastFrameIdsFieldEvent | BroadcastFrameHopsFieldEvent | BroadcastFrameFullFieldEvent> {
    return streamMessage(buf, BroadcastFrame.codec(), opts)
  }
}
