import { createReplicaStore, type ReplicaStore, type ReplicaStoreInit } from '@tlsmesh/store'
import { encodeBatch, type WireLimits, type WireRecord } from '@tlsmesh/wire'
import { describe, expect, it } from 'vitest'
import { GossipValidationError, type ValidationAction, type ValidationCode } from '../src/errors.ts'
import {
  type BatchValidationContext,
  type GossipVerdict,
  type ReceivedMessage,
  toVerdict,
  validateBatch,
} from '../src/gossip-validation.ts'
import { MeshCounters } from '../src/mesh-metrics.ts'

const NOW = 1_700_000_000_000
const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const REALM = 'web'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b)

function wireRecord(overrides: Partial<WireRecord> = {}): WireRecord {
  return {
    id: bytes('session-1'),
    value: bytes('secret-1'),
    created: NOW,
    expires: NOW + 300_000,
    ...overrides,
  }
}

function batch(records: WireRecord[], realm = REALM, limits?: Partial<WireLimits>): Uint8Array {
  return encodeBatch({ realm, records }, limits)
}

interface Setup {
  store: ReplicaStore
  counters: MeshCounters
  storedCreated: number[]
  ctx: BatchValidationContext
  verdict(message: Partial<ReceivedMessage> & { data: Uint8Array }): GossipVerdict
}

function setup(
  storeInit: Omit<ReplicaStoreInit, 'realms'> = {},
  limits: Partial<WireLimits> = {},
  onRecordStored?: (created: number, now: number) => void,
): Setup {
  const store = createReplicaStore({ ...storeInit, realms: [REALM] })
  const counters = new MeshCounters()
  const storedCreated: number[] = []
  const ctx: BatchValidationContext = {
    store,
    limits,
    now: () => NOW,
    counters,
    onRecordStored: onRecordStored ?? ((created) => storedCreated.push(created)),
  }
  return {
    store,
    counters,
    storedCreated,
    ctx,
    verdict: (message) =>
      toVerdict(counters, () => validateBatch(ctx, { topicRealm: REALM, from: PEER, ...message })),
  }
}

/** The outcome of validateBatch alone, as [action, code], or 'stored N'. */
function outcome(s: Setup, message: Partial<ReceivedMessage> & { data: Uint8Array }): string {
  try {
    return `stored ${validateBatch(s.ctx, { topicRealm: REALM, from: PEER, ...message })}`
  } catch (err) {
    if (err instanceof GossipValidationError) return `${err.action} ${err.code}`
    throw err
  }
}

describe('validateBatch: accepted', () => {
  it('stores new records under the signer as origin and counts them', () => {
    const s = setup()
    const data = batch([
      wireRecord(),
      wireRecord({ id: bytes('session-2'), value: bytes('secret-2'), created: NOW - 5 }),
    ])
    expect(s.verdict({ data })).toBe('accept')
    expect(text(s.store.get(REALM, bytes('session-1'), NOW)?.value)).toBe('secret-1')
    expect(s.store.get(REALM, bytes('session-2'), NOW)).toMatchObject({ origin: PEER, created: NOW - 5 })
    expect(s.counters.accepted).toBe(1)
    expect(s.counters.recordsStored).toBe(2)
    expect(s.counters.recordsReceived.get('added')).toBe(2)
    expect(s.storedCreated).toEqual([NOW, NOW - 5])
  })

  it('does not let a batch claim another origin: the signer is the origin', () => {
    const s = setup()
    const data = batch([wireRecord({ origin: 'someoneElse' })])
    expect(s.verdict({ data })).toBe('accept')
    expect(s.store.get(REALM, bytes('session-1'), NOW)?.origin).toBe(PEER)
  })

  it('replaces an older version and accepts a batch with at least one new record', () => {
    const s = setup()
    expect(s.verdict({ data: batch([wireRecord()]) })).toBe('accept')
    const newer = wireRecord({ created: NOW + 1, value: bytes('secret-new') })
    const other = wireRecord({ id: bytes('session-9') })
    // One replaced, one duplicate of what is held: still news, so forwarded.
    expect(s.verdict({ data: batch([wireRecord(), newer, other]) })).toBe('accept')
    expect(text(s.store.get(REALM, bytes('session-1'), NOW)?.value)).toBe('secret-new')
    expect(s.counters.recordsReceived.get('replaced')).toBe(1)
    expect(s.counters.recordsReceived.get('duplicate')).toBe(1)
    expect(s.counters.recordsStored).toBe(3)
    expect(s.counters.accepted).toBe(2)
  })

  it('accepts a batch with new records beside one from the future, and stores only the new ones', () => {
    const s = setup()
    const future = wireRecord({ id: bytes('late'), created: NOW + 120_000, expires: NOW + 400_000 })
    expect(s.verdict({ data: batch([future, wireRecord()]) })).toBe('accept')
    expect(s.store.get(REALM, bytes('late'), NOW)).toBeUndefined()
    expect(s.counters.recordsReceived.get('from-future')).toBe(1)
  })
})

describe('validateBatch: refused', () => {
  interface Case {
    /** Runs before the message arrives (e.g. stores the record it repeats). */
    before?: (s: Setup) => void
    setup?: () => Setup
    message: () => Partial<ReceivedMessage> & { data: Uint8Array }
    action: ValidationAction
  }

  const versionTwo = (): Uint8Array => {
    const data = batch([wireRecord()])
    // The version is written first: field 1 varint (0x08), then the value.
    expect([...data.subarray(0, 2)]).toEqual([0x08, 0x01])
    data[1] = 2
    return data
  }

  // A new ValidationCode without a case here does not compile.
  const cases: Record<ValidationCode, Case> = {
    malformed: { message: () => ({ data: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }), action: 'reject' },
    'too-large': {
      setup: () => setup({}, { maxMessageBytes: 100 }),
      message: () => ({ data: batch([wireRecord({ value: new Uint8Array(200) })]) }),
      action: 'reject',
    },
    'too-many-records': {
      setup: () => setup({}, { maxRecords: 2 }),
      message: () => ({
        data: batch([1, 2, 3].map((i) => wireRecord({ id: bytes(`session-${i}`) }))),
      }),
      action: 'reject',
    },
    'unsupported-version': { message: () => ({ data: versionTwo() }), action: 'ignore' },
    'invalid-record': {
      // Over the wire's value cap (16 KiB): built with a laxer encoder than the receiver's.
      message: () => ({
        data: batch([wireRecord({ value: new Uint8Array(17 * 1024) })], REALM, { maxValueBytes: 32 * 1024 }),
      }),
      action: 'reject',
    },
    'invalid-realm': {
      // version 1, realm "a/b", no records: crafted, since the encoder refuses it.
      message: () => ({ data: new Uint8Array([0x08, 0x01, 0x12, 0x03, 0x61, 0x2f, 0x62]) }),
      action: 'reject',
    },
    'wrong-topic': { message: () => ({ data: batch([wireRecord()], 'other') }), action: 'reject' },
    unsigned: { message: () => ({ data: batch([wireRecord()]), from: undefined }), action: 'reject' },
    'ttl-too-long': {
      message: () => ({ data: batch([wireRecord({ expires: NOW + 24 * 3600_000 + 1 })]) }),
      action: 'reject',
    },
    'from-future': {
      message: () => ({ data: batch([wireRecord({ created: NOW + 61_000, expires: NOW + 400_000 })]) }),
      action: 'ignore',
    },
    'nothing-new': {
      before: (s) => expect(outcome(s, { data: batch([wireRecord()]) })).toBe('stored 1'),
      message: () => ({ data: batch([wireRecord()]) }),
      action: 'ignore',
    },
    internal: {
      setup: () =>
        setup({}, {}, () => {
          throw new TypeError('a bug of ours')
        }),
      message: () => ({ data: batch([wireRecord()]) }),
      action: 'ignore',
    },
  }

  for (const [code, c] of Object.entries(cases) as Array<[ValidationCode, Case]>) {
    it(`${code} -> ${c.action}, counted`, () => {
      const s = c.setup?.() ?? setup()
      c.before?.(s)
      const accepted = s.counters.accepted
      expect(s.verdict(c.message())).toBe(c.action)
      expect(s.counters.refused.get(code)).toBe(1)
      expect([...s.counters.refused.keys()]).toEqual([code])
      expect(s.counters.accepted).toBe(accepted)
      expect(s.counters.rejected).toBe(c.action === 'reject' ? 1 : 0)
      expect(s.counters.ignored).toBe(c.action === 'ignore' ? 1 : 0)
    })
  }

  it('ignores duplicates, stale versions and expired records as nothing new', () => {
    const s = setup()
    expect(outcome(s, { data: batch([wireRecord({ created: NOW })]) })).toBe('stored 1')
    expect(outcome(s, { data: batch([wireRecord({ created: NOW })]) })).toBe('ignore nothing-new')
    expect(outcome(s, { data: batch([wireRecord({ created: NOW - 1 })]) })).toBe('ignore nothing-new')
    const expired = wireRecord({ id: bytes('old'), created: NOW - 10_000, expires: NOW })
    expect(outcome(s, { data: batch([expired]) })).toBe('ignore nothing-new')
    expect(s.store.get(REALM, bytes('old'), NOW)).toBeUndefined()
    expect(Object.fromEntries(s.counters.recordsReceived)).toEqual({
      added: 1,
      duplicate: 1,
      stale: 1,
      expired: 1,
    })
  })

  it('ignores an empty batch', () => {
    expect(outcome(setup(), { data: batch([]) })).toBe('ignore nothing-new')
  })

  it('rejects a value over the replica cap, and stores nothing of it', () => {
    const s = setup({ maxValueBytes: 1024 })
    const data = batch([wireRecord({ value: new Uint8Array(1025) })])
    expect(s.verdict({ data })).toBe('reject')
    expect(s.counters.refused.get('too-large')).toBe(1)
    expect(s.counters.recordsReceived.get('too-large')).toBe(1)
    expect(s.store.stats().entries).toBe(0)
  })

  it('rejects a truncated batch as malformed', () => {
    const data = batch([wireRecord(), wireRecord({ id: bytes('session-2') })])
    const s = setup()
    expect(s.verdict({ data: data.subarray(0, data.byteLength - 3) })).toBe('reject')
    expect(s.counters.refused.get('malformed')).toBe(1)
    expect(s.store.stats().entries).toBe(0)
  })

  it('rejects a batch with a record over a hard limit even when another is from the future', () => {
    const future = wireRecord({ id: bytes('late'), created: NOW + 120_000, expires: NOW + 400_000 })
    const tooLong = wireRecord({ expires: NOW + 25 * 3600_000 })
    expect(outcome(setup(), { data: batch([future, tooLong]) })).toBe('reject ttl-too-long')
  })

  it('leaves the replica alone for a wrong-topic or unsigned batch', () => {
    const s = setup()
    expect(outcome(s, { data: batch([wireRecord()]), topicRealm: 'other' })).toBe('reject wrong-topic')
    expect(outcome(s, { data: batch([wireRecord()]), from: undefined })).toBe('reject unsigned')
    expect(s.store.stats().entries).toBe(0)
  })
})

describe('toVerdict', () => {
  it('turns any unexpected error into ignore with the code internal', () => {
    const counters = new MeshCounters()
    expect(
      toVerdict(counters, () => {
        throw new Error('boom')
      }),
    ).toBe('ignore')
    expect(toVerdict(counters, () => 1)).toBe('accept')
    expect(counters.refused.get('internal')).toBe(1)
    expect({ accepted: counters.accepted, ignored: counters.ignored, rejected: counters.rejected }).toEqual({
      accepted: 1,
      ignored: 1,
      rejected: 0,
    })
  })
})
