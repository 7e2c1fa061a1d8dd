import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LIMITS,
  decodeBatch,
  encodeBatch,
  InvalidRealmError,
  InvalidRecordError,
  MalformedMessageError,
  MessageTooLargeError,
  type RecordBatch,
  SIGNATURE_BYTES,
  TooManyRecordsError,
  UnsupportedVersionError,
  WIRE_DECODE_ERROR_CODES,
  WIRE_VERSION,
  WireDecodeError,
  type WireDecodeErrorCode,
  WireEncodeError,
} from '../src/index.ts'
import { RecordBatch as RawBatch, WireRecord as RawRecord } from '../src/messages.generated.ts'
import { batch, bytes, NOW, rawBatch, rawRecord, record, refusal, SIGNATURE } from './fixtures.ts'

const decodeError = (input: Uint8Array, limits?: Parameters<typeof decodeBatch>[1]): WireDecodeError =>
  refusal(() => decodeBatch(input, limits))

/** Field 4 (bytes) of a batch: the fixed signature. */
const signatureField = new Uint8Array([0x22, SIGNATURE_BYTES, ...SIGNATURE])

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

describe('round trip', () => {
  const cases: Record<string, RecordBatch> = {
    'no records': batch('r', []),
    'a record': batch('fleet-1.example_com', [record()]),
    'a tombstone': batch('r', [record({ value: undefined })]),
    'an empty value, which is not a tombstone': batch('r', [record({ value: new Uint8Array(0) })]),
    'an origin': batch('r', [record({ origin: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' })]),
    'every limit at its maximum': batch('r'.repeat(DEFAULT_LIMITS.maxRealmBytes), [
      record({
        id: bytes(DEFAULT_LIMITS.maxIdBytes),
        value: bytes(DEFAULT_LIMITS.maxValueBytes),
        created: Number.MAX_SAFE_INTEGER - 1,
        expires: Number.MAX_SAFE_INTEGER,
        origin: 'o'.repeat(DEFAULT_LIMITS.maxOriginBytes),
      }),
    ]),
    'the smallest record': batch('r', [{ id: bytes(1), created: 1, expires: 2 }]),
    'a mix': batch('r', [
      record(),
      record({ value: undefined, origin: 'abc' }),
      record({ id: bytes(5, 9), origin: 'x' }),
    ]),
    'another signature': { realm: 'r', records: [record()], signature: bytes(SIGNATURE_BYTES, 0) },
  }

  for (const [name, batch] of Object.entries(cases)) {
    it(name, () => {
      const decoded = decodeBatch(encodeBatch(batch))
      expect(decoded).toEqual(batch)
      for (const [i, r] of decoded.records.entries()) {
        expect('value' in r).toBe(batch.records[i]!.value !== undefined)
        expect('origin' in r).toBe(batch.records[i]!.origin !== undefined)
      }
    })
  }

  it('carries the maximum number of records', () => {
    const records = Array.from({ length: DEFAULT_LIMITS.maxRecords }, (_, i) =>
      record({ id: new Uint8Array([i >> 8, i & 0xff]), value: bytes(200) }),
    )
    expect(decodeBatch(encodeBatch(batch('r', records))).records).toEqual(records)
  })

  it('encodes the same batch to the same bytes, since the gossip message id is their hash', () => {
    const batch = cases['a mix']!
    expect(encodeBatch(batch)).toEqual(encodeBatch(structuredClone(batch)))
  })

  it('returns copies, so that records do not pin or follow the message buffer', () => {
    const encoded = encodeBatch(batch('r', [record()]))
    const decoded = decodeBatch(encoded).records[0]!
    expect(decoded.id.buffer).not.toBe(encoded.buffer)
    expect(decoded.value!.buffer).not.toBe(encoded.buffer)
    encoded.fill(0)
    expect(decoded).toEqual(record())
  })

  it('returns a copy of the signature too', () => {
    const encoded = encodeBatch(batch('r', [record()]))
    const { signature } = decodeBatch(encoded)
    expect(signature.buffer).not.toBe(encoded.buffer)
    encoded.fill(0)
    expect(signature).toEqual(SIGNATURE)
  })

  it('returns copies from a Node Buffer too, whose slice() is a view (found by scripts/fuzz)', () => {
    // What a socket delivers: a Buffer over a larger pooled ArrayBuffer.
    const encoded = encodeBatch(batch('r', [record()]))
    const message = Buffer.from(new ArrayBuffer(64 * 1024), 0, encoded.byteLength)
    message.set(encoded)
    const decoded = decodeBatch(message).records[0]!
    expect(decoded.id.buffer).not.toBe(message.buffer)
    expect(decoded.value!.buffer.byteLength).toBe(decoded.id.byteLength + decoded.value!.byteLength)
    message.fill(0)
    expect(decoded).toEqual(record())
  })

  it("copies a batch's records into one allocation of their size, not one per id and value", () => {
    const records = [record(), record({ id: bytes(4, 7), value: undefined }), record({ id: bytes(8, 9) })]
    const encoded = encodeBatch(batch('r', records))
    const decoded = decodeBatch(encoded).records
    const [first] = decoded
    for (const r of decoded) {
      expect(r.id.buffer).toBe(first!.id.buffer)
      if (r.value !== undefined) expect(r.value.buffer).toBe(first!.id.buffer)
    }
    const size = records.reduce((n, r) => n + r.id.byteLength + (r.value?.byteLength ?? 0), 0)
    expect(first!.id.buffer.byteLength).toBe(size)
    encoded.fill(0)
    expect(decoded).toEqual(records)
  })

  it('writes no proof index on a batch record: only sync records name a proof', () => {
    const encoded = encodeBatch(batch('r', [record(), record({ id: bytes(4) })]))
    expect(RawBatch.decode(encoded).records.map((r) => r.proof)).toEqual([undefined, undefined])
  })

  it('starts with the version, which decoders read first', () => {
    expect([...encodeBatch(batch('r', [])).subarray(0, 2)]).toEqual([0x08, WIRE_VERSION])
  })

  it('skips fields it does not know, so later versions can add optional ones', () => {
    const small = { ...rawRecord(), value: bytes(10, 2) }
    // Field 14 (bytes) on the record, field 15 (varint) on the batch.
    const recordBytes = concat(RawRecord.encode(small), new Uint8Array([0x72, 0x01, 0x00]))
    expect(recordBytes.byteLength).toBeLessThan(128)
    const encoded = concat(
      new Uint8Array([0x08, WIRE_VERSION, 0x12, 0x01, 0x72]),
      new Uint8Array([0x1a, recordBytes.byteLength]),
      recordBytes,
      signatureField,
      new Uint8Array([0x78, 0x2a]),
    )
    expect(decodeBatch(encoded)).toEqual(batch('r', [record({ value: bytes(10, 2) })]))
  })
})

describe('refusals', () => {
  it('covers every error code', () => {
    // A new code without a case here does not compile.
    const cases: Record<WireDecodeErrorCode, Uint8Array> = {
      'too-large': new Uint8Array(DEFAULT_LIMITS.maxMessageBytes + 1),
      malformed: new Uint8Array([0x1a, 0x05, 0x0a]),
      'unsupported-version': rawBatch({ version: WIRE_VERSION + 1 }),
      'too-many-records': rawBatch({ records: Array.from({ length: 4097 }, () => rawRecord()) }),
      'invalid-record': rawBatch({ records: [rawRecord({ id: new Uint8Array(0) })] }),
      'invalid-realm': rawBatch({ realm: 'a/b' }),
    }
    const classes = {
      'too-large': MessageTooLargeError,
      malformed: MalformedMessageError,
      'unsupported-version': UnsupportedVersionError,
      'too-many-records': TooManyRecordsError,
      'invalid-record': InvalidRecordError,
      'invalid-realm': InvalidRealmError,
    } satisfies Record<WireDecodeErrorCode, unknown>
    expect(Object.keys(cases).sort()).toEqual([...WIRE_DECODE_ERROR_CODES].sort())
    for (const code of WIRE_DECODE_ERROR_CODES) {
      const err = decodeError(cases[code])
      expect(err.code).toBe(code)
      expect(err).toBeInstanceOf(classes[code])
      expect(err.name).toBe(classes[code].name)
      expect(err).toBeInstanceOf(Error)
    }
  })

  describe('size', () => {
    it('refuses a message over maxMessageBytes before decoding it', () => {
      // All 0xff is not protobuf: only a size check that runs first can report too-large.
      expect(decodeError(bytes(DEFAULT_LIMITS.maxMessageBytes + 1, 0xff)).code).toBe('too-large')
    })

    it('accepts a message of exactly maxMessageBytes and refuses one byte more', () => {
      const encoded = encodeBatch(batch('r', [record()]))
      expect(decodeBatch(encoded, { maxMessageBytes: encoded.byteLength }).records).toHaveLength(1)
      expect(decodeError(encoded, { maxMessageBytes: encoded.byteLength - 1 }).code).toBe('too-large')
    })
  })

  describe('record count', () => {
    it('refuses more than maxRecords', () => {
      const encoded = rawBatch({ records: [rawRecord(), rawRecord(), rawRecord()] })
      expect(decodeBatch(encoded, { maxRecords: 3 }).records).toHaveLength(3)
      expect(decodeError(encoded, { maxRecords: 2 }).code).toBe('too-many-records')
    })

    it('stops at the first record over the limit, before reading the rest', () => {
      // Three records, then a fourth whose length runs past the end: only a decoder that stopped at
      // the third can tell too-many-records from malformed.
      const encoded = concat(
        rawBatch({ records: [rawRecord(), rawRecord(), rawRecord()] }),
        new Uint8Array([0x1a, 0x7f]),
      )
      expect(decodeError(encoded).code).toBe('malformed')
      expect(decodeError(encoded, { maxRecords: 2 }).code).toBe('too-many-records')
    })
  })

  describe('version', () => {
    it('refuses a missing version as malformed', () => {
      expect(decodeError(rawBatch({ version: 0 })).code).toBe('malformed')
      expect(decodeError(new Uint8Array(0)).code).toBe('malformed')
    })

    // 1: a peer not yet upgraded, whose batches carry no signature.
    it.each([1, 3, 0x7f, 0x80, 0xffffffff])('refuses version %i as unsupported', (version) => {
      expect(decodeError(rawBatch({ version })).code).toBe('unsupported-version')
    })

    it('reports a newer version even when the rest would not parse as this one', () => {
      const version = WIRE_VERSION + 1
      const newer = concat(rawBatch({ version, records: [] }), new Uint8Array([0x1a, 0x7f, 0xff]))
      expect(decodeError(newer).code).toBe('unsupported-version')
      const newerRecords = rawBatch({ version, records: [rawRecord({ id: new Uint8Array(0) })] })
      expect(decodeError(newerRecords).code).toBe('unsupported-version')
    })

    it('finds the version wherever it is', () => {
      const realmFirst = concat(new Uint8Array([0x12, 0x01, 0x72]), new Uint8Array([0x08, WIRE_VERSION + 1]))
      expect(decodeError(realmFirst).code).toBe('unsupported-version')
      const current = concat(
        new Uint8Array([0x12, 0x01, 0x72]),
        signatureField,
        new Uint8Array([0x08, WIRE_VERSION]),
      )
      expect(decodeBatch(current)).toEqual(batch('r', []))
    })
  })

  describe('garbage', () => {
    const cases: Record<string, Uint8Array> = {
      'one zero': new Uint8Array(1),
      'all zeros': new Uint8Array(1000),
      'one 0xff': new Uint8Array([0xff]),
      'all 0xff': bytes(1000, 0xff),
      'all 0xff up to the limit': bytes(DEFAULT_LIMITS.maxMessageBytes, 0xff),
      'a tag that runs off the end': new Uint8Array([0x88]),
      'a version that runs off the end': new Uint8Array([0x08, 0x81]),
      'a length past the end': new Uint8Array([0x08, WIRE_VERSION, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      'wire type 7': new Uint8Array([0x08, WIRE_VERSION, 0x7f]),
      text: new TextEncoder().encode('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'),
      // Unknown groups are skipped by recursion: nest them until the stack runs out.
      'deeply nested groups': bytes(DEFAULT_LIMITS.maxMessageBytes, 0x7b),
    }
    for (const [name, input] of Object.entries(cases)) {
      it(`refuses ${name}`, () => {
        expect(decodeError(input).code).toBe('malformed')
      })
    }

    it('refuses random bytes with a WireDecodeError', () => {
      let seed = 1
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed >> 16
      }
      for (let i = 0; i < 2000; i++) {
        const input = Uint8Array.from({ length: 1 + (random() % 200) }, () => random() & 0xff)
        expect(decodeError(input)).toBeInstanceOf(WireDecodeError)
      }
    })

    it('keeps the protobuf error as the cause', () => {
      expect(decodeError(new Uint8Array([0x1a, 0x05, 0x0a])).cause).toBeInstanceOf(Error)
    })
  })

  describe('truncation', () => {
    const whole = batch('realm', [
      record(),
      record({ value: undefined, origin: 'peer1' }),
      record({ value: bytes(300), origin: 'p' }),
    ])
    const encoded = encodeBatch(whole)

    it('writes the signature last', () => {
      expect(encoded.subarray(-signatureField.byteLength)).toEqual(signatureField)
    })

    // In version 1 a cut between two records read as a shorter batch; the signature, written last,
    // is now missing or short in every cut.
    it('refuses every cut, between records too', () => {
      for (let cut = 0; cut < encoded.byteLength; cut++) {
        expect(decodeError(encoded.subarray(0, cut))).toBeInstanceOf(WireDecodeError)
      }
      expect(decodeBatch(encoded)).toEqual(whole)
    })
  })

  describe('signature', () => {
    it('refuses a batch without one', () => {
      const err = decodeError(rawBatch({ signature: new Uint8Array(0) }))
      expect(err.code).toBe('malformed')
      expect(err).toBeInstanceOf(MalformedMessageError)
      const noField = concat(new Uint8Array([0x08, WIRE_VERSION, 0x12, 0x01, 0x72]))
      expect(decodeError(noField).code).toBe('malformed')
    })

    it.each([1, SIGNATURE_BYTES - 1, SIGNATURE_BYTES + 1, 128])('refuses a %i-byte signature', (length) => {
      expect(decodeError(rawBatch({ signature: bytes(length) })).code).toBe('malformed')
    })
  })

  describe('records', () => {
    const cases: Record<string, Parameters<typeof rawRecord>[0]> = {
      'an empty id': { id: new Uint8Array(0) },
      'an id over maxIdBytes': { id: bytes(DEFAULT_LIMITS.maxIdBytes + 1) },
      'a value over maxValueBytes': { value: bytes(DEFAULT_LIMITS.maxValueBytes + 1) },
      'no created': { created: 0n },
      'no expires': { expires: 0n },
      'expires equal to created': { expires: BigInt(NOW) },
      'expires before created': { expires: BigInt(NOW - 1) },
      'a created beyond Number.MAX_SAFE_INTEGER': {
        created: BigInt(Number.MAX_SAFE_INTEGER) + 1n,
        expires: BigInt(Number.MAX_SAFE_INTEGER) + 2n,
      },
      'an expires beyond Number.MAX_SAFE_INTEGER': { expires: BigInt(Number.MAX_SAFE_INTEGER) + 1n },
      'the largest uint64': { expires: 2n ** 64n - 1n },
      'an empty origin': { origin: '' },
      'an origin over maxOriginBytes': { origin: 'o'.repeat(DEFAULT_LIMITS.maxOriginBytes + 1) },
      'an origin with a newline': { origin: 'peer\nfake log line' },
      'an origin that is not ASCII': { origin: 'pée' },
    }
    for (const [name, fields] of Object.entries(cases)) {
      it(`refuses ${name}`, () => {
        const err = decodeError(rawBatch({ records: [rawRecord(), rawRecord(fields)] }))
        expect(err.code).toBe('invalid-record')
        expect(err.message).toMatch(/^record 1: /)
      })
    }

    it('applies the id and value limits given', () => {
      const encoded = encodeBatch(batch('r', [record({ id: bytes(10), value: bytes(20) })]))
      expect(decodeBatch(encoded, { maxIdBytes: 10, maxValueBytes: 20 }).records).toHaveLength(1)
      expect(decodeError(encoded, { maxIdBytes: 9 }).code).toBe('invalid-record')
      expect(decodeError(encoded, { maxValueBytes: 19 }).code).toBe('invalid-record')
    })

    it('never puts a value in an error message', () => {
      const err = decodeError(rawBatch({ records: [rawRecord({ value: bytes(20_000, 0x41) })] }))
      expect(err.message).not.toContain('AAAA')
    })
  })

  describe('realm', () => {
    const cases: Record<string, string> = {
      'no realm': '',
      'a realm over maxRealmBytes': 'r'.repeat(DEFAULT_LIMITS.maxRealmBytes + 1),
      'a slash': 'a/b',
      'a space': 'a b',
      'a newline': 'a\n',
      'a colon': 'a:b',
      'non-ASCII': 'réalm',
      'a NUL': 'a\0',
    }
    for (const [name, realm] of Object.entries(cases)) {
      it(`refuses ${name}`, () => {
        expect(decodeError(rawBatch({ realm })).code).toBe('invalid-realm')
      })
    }

    it('refuses bytes that are not UTF-8', () => {
      const encoded = concat(new Uint8Array([0x08, WIRE_VERSION, 0x12, 0x02, 0xc3, 0x28]), signatureField)
      expect(decodeError(encoded).code).toBe('invalid-realm')
    })

    it('applies the realm limit given', () => {
      const encoded = rawBatch({ realm: 'abcd' })
      expect(decodeError(encoded, { maxRealmBytes: 3 }).code).toBe('invalid-realm')
    })
  })

  it('refuses limits that are not positive integers', () => {
    const encoded = rawBatch()
    expect(() => decodeBatch(encoded, { maxRecords: 0 })).toThrow(RangeError)
    expect(() => decodeBatch(encoded, { maxIdBytes: 1.5 })).toThrow(/maxIdBytes/)
    expect(() => decodeBatch(encoded, { maxMessageBytes: Number.NaN })).toThrow(RangeError)
  })
})

describe('encodeBatch', () => {
  function encodeError(input: RecordBatch, limits?: Parameters<typeof encodeBatch>[1]): WireEncodeError {
    try {
      encodeBatch(input, limits)
    } catch (err) {
      if (err instanceof WireEncodeError) return err
      throw err
    }
    throw new Error('expected encodeBatch to throw')
  }

  it('refuses what a peer would refuse, rather than send it', () => {
    expect(encodeError(batch('a b', [])).code).toBe('invalid-realm')
    expect(encodeError(batch('r', [record({ id: new Uint8Array(0) })])).code).toBe('invalid-record')
    expect(encodeError(batch('r', [record({ created: 1.5 })])).code).toBe('invalid-record')
    expect(encodeError(batch('r', [record({ expires: Number.NaN })])).code).toBe('invalid-record')
    expect(encodeError(batch('r', [record({ created: 0, expires: 5 })])).code).toBe('invalid-record')
    expect(encodeError(batch('r', [record(), record()]), { maxRecords: 1 }).code).toBe('too-many-records')
    expect(encodeError(batch('r', [record()]), { maxMessageBytes: 100 }).code).toBe('too-large')
    for (const length of [1, SIGNATURE_BYTES - 1, SIGNATURE_BYTES + 1]) {
      expect(encodeError({ ...batch('r', [record()]), signature: bytes(length) }).code).toBe('invalid-record')
    }
  })

  it('sizes a batch exactly before encoding it', () => {
    const sized = batch('r', [record(), record({ value: undefined, origin: 'peer' })])
    const length = encodeBatch(sized).byteLength
    expect(encodeBatch(sized, { maxMessageBytes: length }).byteLength).toBe(length)
    expect(encodeError(sized, { maxMessageBytes: length - 1 }).code).toBe('too-large')
  })

  it('names the record at fault', () => {
    const err = encodeError(batch('r', [record(), record({ expires: NOW })]))
    expect(err.message).toBe('record 1: expires is not after created')
    expect(err.name).toBe('WireEncodeError')
  })
})
