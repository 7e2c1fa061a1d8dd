import {
  createReplicaStore,
  type ReplicaStore,
  type ReplicaStoreInit,
  type SessionRecord,
} from '@tlsmesh/store'
import {
  decodeBatch,
  encodeBatch,
  recordDigests,
  WIRE_VERSION,
  type WireLimits,
  type WireRecord,
} from '@tlsmesh/wire'
import { beforeAll, describe, expect, it } from 'vitest'
import { GossipValidationError, type ValidationAction, type ValidationCode } from '../src/errors.ts'
import {
  authenticateBatch,
  type BatchValidationContext,
  type GossipVerdict,
  type ReceivedMessage,
  toVerdict,
  validateBatch,
} from '../src/gossip-validation.ts'
import { MeshCounters } from '../src/mesh-metrics.ts'
import { createSigner, forger, type Signer, signedBatch } from './signed-records.ts'

const NOW = 1_700_000_000_000
const REALM = 'web'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b)

/** The batches' origin (the gossipsub signer, the tree frame's origin), another node, the receiver. */
let origin: Signer
let other: Signer
let receiver: Signer
beforeAll(async () => {
  ;[origin, other, receiver] = await Promise.all([createSigner(), createSigner(), createSigner()])
})

function wireRecord(overrides: Partial<WireRecord> = {}): WireRecord {
  return {
    id: bytes('session-1'),
    value: bytes('secret-1'),
    created: NOW,
    expires: NOW + 300_000,
    ...overrides,
  }
}

/** A batch as `origin` publishes it. */
function batch(records: WireRecord[], realm = REALM, limits?: Partial<WireLimits>): Uint8Array {
  return signedBatch(origin, realm, records, limits)
}

/** A batch `origin` signed, then changed on its way: what a relay that forges records sends. */
function tampered(records: WireRecord[], change: (records: WireRecord[]) => WireRecord[], realm = REALM) {
  const { signature } = decodeBatch(batch(records))
  return encodeBatch({ realm, records: change(records.map((r) => ({ ...r }))), signature })
}

interface Setup {
  store: ReplicaStore
  counters: MeshCounters
  storedCreated: number[]
  ctx: BatchValidationContext
  verdict(message: Partial<ReceivedMessage> & { data: Uint8Array }): GossipVerdict
}

interface SetupOptions {
  store?: Omit<ReplicaStoreInit, 'realms'>
  limits?: Partial<WireLimits>
  /** Hears every record the store takes (a throwing one stands for a bug of ours). */
  onStored?: (record: SessionRecord) => void
  originAllowed?: (origin: string) => boolean
  onConflict?: (realm: string, origin: string) => void
}

function setup(options: SetupOptions = {}): Setup {
  const store = createReplicaStore({ ...options.store, realms: [REALM] })
  const counters = new MeshCounters()
  const storedCreated: number[] = []
  const ctx: BatchValidationContext = {
    store,
    limits: options.limits ?? {},
    now: () => NOW,
    counters,
    auth: receiver.auth,
    originAllowed: options.originAllowed ?? (() => true),
    ...(options.onConflict !== undefined ? { onConflict: options.onConflict } : {}),
  }
  store.watch({
    stored: options.onStored ?? ((record) => storedCreated.push(record.created)),
    removed: () => {},
  })
  return {
    store,
    counters,
    storedCreated,
    ctx,
    verdict: (message) => toVerdict(counters, () => validate(ctx, message)),
  }
}

/** What the mesh does with a message: authenticate, then validate. */
function validate(ctx: BatchValidationContext, message: Partial<ReceivedMessage> & { data: Uint8Array }) {
  return validateBatch(ctx, authenticateBatch(ctx, { topicRealm: REALM, from: origin.origin, ...message }))
}

/** The outcome of authentication and validation, as [action, code], or 'stored N'. */
function outcome(s: Setup, message: Partial<ReceivedMessage> & { data: Uint8Array }): string {
  try {
    return `stored ${validate(s.ctx, message)}`
  } catch (err) {
    if (err instanceof GossipValidationError) return `${err.action} ${err.code}`
    throw err
  }
}

/** Another origin's live record of session-1, as gossip stores it. */
function plantOthersRecord(s: Setup): void {
  const data = signedBatch(other, REALM, [wireRecord({ value: bytes('theirs') })])
  expect(outcome(s, { data, from: other.origin })).toBe('stored 1')
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
    expect(s.store.get(REALM, bytes('session-2'), NOW)).toMatchObject({
      origin: origin.origin,
      created: NOW - 5,
    })
    expect(s.counters.accepted).toBe(1)
    expect(s.counters.recordsStored).toBe(2)
    expect(s.counters.recordsReceived.get('added')).toBe(2)
    expect(s.storedCreated).toEqual([NOW, NOW - 5])
  })

  it('does not let a batch claim another origin: the signer is the origin', () => {
    const s = setup()
    const data = batch([wireRecord({ origin: 'someoneElse' })])
    expect(s.verdict({ data })).toBe('accept')
    expect(s.store.get(REALM, bytes('session-1'), NOW)?.origin).toBe(origin.origin)
  })

  it("keeps the batch's proof with each record, one proof shared by the batch, for sync to relay", () => {
    const s = setup()
    const records = [wireRecord(), wireRecord({ id: bytes('session-2') })]
    const data = batch(records)
    expect(s.verdict({ data })).toBe('accept')
    const [first, second] = ['session-1', 'session-2'].map((id) => s.store.get(REALM, bytes(id), NOW)?.proof)
    expect(first).toEqual({
      origin: origin.origin,
      signature: decodeBatch(data).signature,
      digests: recordDigests(records),
    })
    expect(second).toBe(first)
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
    // Stored records are counted per batch, the rest per record: the totals are the same.
    expect(s.counters.recordsReceived.get('added')).toBe(2)
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
    /** Checks the replica after the verdict. */
    after?: (s: Setup) => void
  }

  const nextVersion = (): Uint8Array => {
    const data = batch([wireRecord()])
    // The version is written first: field 1 varint (0x08), then the value.
    expect([...data.subarray(0, 2)]).toEqual([0x08, WIRE_VERSION])
    data[1] = WIRE_VERSION + 1
    return data
  }

  // A new ValidationCode without a case here does not compile.
  const cases: Record<ValidationCode, Case> = {
    malformed: { message: () => ({ data: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }), action: 'reject' },
    'too-large': {
      setup: () => setup({ limits: { maxMessageBytes: 100 } }),
      message: () => ({ data: batch([wireRecord({ value: new Uint8Array(200) })]) }),
      action: 'reject',
    },
    'too-many-records': {
      setup: () => setup({ limits: { maxRecords: 2 } }),
      message: () => ({
        data: batch([1, 2, 3].map((i) => wireRecord({ id: bytes(`session-${i}`) }))),
      }),
      action: 'reject',
    },
    'unsupported-version': { message: () => ({ data: nextVersion() }), action: 'ignore' },
    'invalid-record': {
      // Over the wire's value cap (16 KiB): built with a laxer encoder than the receiver's.
      message: () => ({
        data: batch([wireRecord({ value: new Uint8Array(17 * 1024) })], REALM, { maxValueBytes: 32 * 1024 }),
      }),
      action: 'reject',
    },
    'invalid-realm': {
      // This version, realm "a/b", no records: crafted, since the encoder refuses it.
      message: () => ({ data: new Uint8Array([0x08, WIRE_VERSION, 0x12, 0x03, 0x61, 0x2f, 0x62]) }),
      action: 'reject',
    },
    'wrong-topic': { message: () => ({ data: batch([wireRecord()], 'other') }), action: 'reject' },
    unsigned: { message: () => ({ data: batch([wireRecord()]), from: undefined }), action: 'reject' },
    'bad-signature': {
      // Signed by another key than the origin's: what a relay that makes records up can do.
      message: () => ({ data: signedBatch(other, REALM, [wireRecord()]) }),
      action: 'reject',
      after: (s) => expect(s.store.stats().entries).toBe(0),
    },
    'origin-not-allowed': {
      // Signed by its origin, relayed by a peer inside the allowlist: the list applies to the signer.
      setup: () => setup({ originAllowed: (o) => o !== origin.origin }),
      message: () => ({ data: batch([wireRecord()]) }),
      action: 'ignore',
      after: (s) => expect(s.store.stats().entries).toBe(0),
    },
    'not-owner': {
      before: plantOthersRecord,
      message: () => ({ data: batch([wireRecord({ created: NOW + 1, value: bytes('planted') })]) }),
      action: 'ignore',
      after: (s) =>
        expect(s.store.get(REALM, bytes('session-1'), NOW)).toMatchObject({
          origin: other.origin,
          value: bytes('theirs'),
        }),
    },
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
        setup({
          onStored: () => {
            throw new TypeError('a bug of ours')
          },
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
      c.after?.(s)
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
    const s = setup({ store: { maxValueBytes: 1024 } })
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

describe('authenticateBatch: forged records', () => {
  const two = (): WireRecord[] => [
    wireRecord(),
    wireRecord({ id: bytes('session-2'), value: bytes('secret-2') }),
  ]

  it.each<[string, (records: WireRecord[]) => WireRecord[]]>([
    ['a value changed', (rs) => [{ ...rs[0]!, value: bytes('planted') }, rs[1]!]],
    ['expires stretched to 24 h', (rs) => [{ ...rs[0]!, expires: NOW + 24 * 3600_000 }, rs[1]!]],
    ['created bumped, so that it wins', (rs) => [{ ...rs[0]!, created: NOW + 1 }, rs[1]!]],
    ['a value turned into a tombstone', (rs) => [{ ...rs[0]!, value: undefined }, rs[1]!]],
    ['a record dropped', (rs) => [rs[1]!]],
    ['a record added', (rs) => [...rs, wireRecord({ id: bytes('session-3') })]],
    ['the records reordered', (rs) => [rs[1]!, rs[0]!]],
  ])('rejects a batch with %s after signing, and stores none of it', (_name, change) => {
    const s = setup()
    expect(outcome(s, { data: tampered(two(), change) })).toBe('reject bad-signature')
    expect(s.store.stats().entries).toBe(0)
    expect(s.counters.recordRefusals.get('gossip:forged')).toBeGreaterThanOrEqual(1)
  })

  it('rejects a batch replayed into another realm: the realm is signed', () => {
    const s = setup()
    const data = tampered(two(), (rs) => rs, 'mail')
    expect(outcome(s, { data, topicRealm: 'mail' })).toBe('reject bad-signature')
  })

  it("rejects a signature another key made in the origin's name, and one of the origin's under another", () => {
    const s = setup()
    const records = [wireRecord()]
    const claimed = forger(other, origin.origin).sign(REALM, records).signature
    expect(outcome(s, { data: encodeBatch({ realm: REALM, records, signature: claimed }) })).toBe(
      'reject bad-signature',
    )
    // The origin's genuine batch, claimed by another signer (a gossipsub message it re-signed).
    expect(outcome(s, { data: batch(records), from: other.origin })).toBe('reject bad-signature')
    expect(s.counters.recordRefusals.get('gossip:forged')).toBe(2)
    expect(s.store.stats().entries).toBe(0)
  })

  it('rejects a batch without a signature, and one from an origin that is not an Ed25519 peer id', () => {
    const s = setup()
    // The signature is the last field (4, 64 bytes: tag 0x22, length 0x40): a batch without it.
    const signed = batch([wireRecord()])
    expect([...signed.subarray(-66, -64)]).toEqual([0x22, 0x40])
    const unsigned = signed.subarray(0, -66)
    expect(outcome(s, { data: unsigned })).toBe('reject malformed')
    expect(outcome(s, { data: batch([wireRecord()]), from: 'QmNotAKeyOfAnyKind' })).toBe(
      'reject bad-signature',
    )
    expect(s.store.stats().entries).toBe(0)
  })
})

describe("validateBatch: other origins' records", () => {
  it('refuses a record for an id another origin holds, stores the rest, and punishes nobody', () => {
    const s = setup()
    plantOthersRecord(s)
    const data = batch([
      wireRecord({ created: NOW + 1, value: bytes('planted') }),
      wireRecord({ id: bytes('mine') }),
    ])
    expect(s.verdict({ data })).toBe('accept')
    expect(s.store.get(REALM, bytes('session-1'), NOW)).toMatchObject({
      origin: other.origin,
      value: bytes('theirs'),
    })
    expect(s.store.get(REALM, bytes('mine'), NOW)?.origin).toBe(origin.origin)
    expect(s.counters.recordRefusals.get('gossip:not-owner')).toBe(1)
    expect(s.counters.rejected).toBe(0)
  })

  it("stores its origin's tombstone over its own record: the session is gone", () => {
    const s = setup()
    expect(s.verdict({ data: batch([wireRecord()]) })).toBe('accept')
    expect(s.verdict({ data: batch([wireRecord({ created: NOW + 1, value: undefined })]) })).toBe('accept')
    expect(s.store.get(REALM, bytes('session-1'), NOW)).toBeUndefined()
    expect(s.store.peek(REALM, bytes('session-1'), NOW)).toMatchObject({ created: NOW + 1, value: undefined })
    expect(s.counters.recordsReceived.get('replaced')).toBe(1)
  })

  it('refuses a tombstone for an id another origin holds: nobody else deletes a session', () => {
    const s = setup()
    plantOthersRecord(s)
    const data = batch([wireRecord({ created: NOW + 1, value: undefined })])
    expect(outcome(s, { data }).startsWith('ignore')).toBe(true)
    expect(text(s.store.get(REALM, bytes('session-1'), NOW)?.value)).toBe('theirs')
    expect(s.counters.recordRefusals.get('gossip:not-owner')).toBe(1)
  })

  it("counts the allowlist's refusals per record", () => {
    const s = setup({ originAllowed: () => false })
    const data = batch([wireRecord(), wireRecord({ id: bytes('session-2') })])
    expect(outcome(s, { data })).toBe('ignore origin-not-allowed')
    expect(s.counters.recordRefusals.get('gossip:origin-not-allowed')).toBe(2)
  })

  it("refuses a flooding origin's records in a full realm rather than evict the others'", () => {
    const s = setup({ store: { maxEntriesPerRealm: 4 } })
    plantOthersRecord(s)
    const flood = Array.from({ length: 10 }, (_, n) => wireRecord({ id: bytes(`flood-${n}`) }))
    expect(outcome(s, { data: batch(flood) })).toBe('stored 3')
    expect(s.store.get(REALM, bytes('session-1'), NOW)?.origin).toBe(other.origin)
    expect(s.counters.recordRefusals.get('gossip:over-quota')).toBe(7)
  })

  it("reports a record that lost its realm's contest, and stores nothing of it", () => {
    const conflicts: Array<[string, string]> = []
    const s = setup({
      store: { contested: { [REALM]: () => false } },
      onConflict: (realm, o) => conflicts.push([realm, o]),
    })
    plantOthersRecord(s)
    expect(outcome(s, { data: batch([wireRecord({ created: NOW + 1 })]) })).toBe('ignore nothing-new')
    expect(conflicts).toEqual([[REALM, origin.origin]])
    expect(s.store.get(REALM, bytes('session-1'), NOW)?.origin).toBe(other.origin)
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
