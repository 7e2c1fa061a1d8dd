import { describe, expect, it } from 'vitest'
import { DEFAULT_TTL_MS, MAX_ID_BYTES } from '../src/constants.ts'
import {
  InvalidIdError,
  InvalidOptionError,
  InvalidRealmError,
  NotOwnerError,
  RecordTooLargeError,
  UnknownRealmError,
} from '../src/errors.ts'
import { LocalSessionCache } from '../src/local-session-cache.ts'
import { createReplicaStore, type ReplicaStoreInit } from '../src/replica-store.ts'
import type { SessionRecord } from '../src/session-record.ts'
import { bytes, NOW, proof } from './records.ts'

const ID = bytes('session-1')
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

function setup(storeInit: ReplicaStoreInit = { realms: ['web'] }, defaultTtlMs?: number) {
  const clock = { now: NOW }
  const published: SessionRecord[] = []
  const store = createReplicaStore(storeInit)
  const cache = new LocalSessionCache({
    store,
    now: () => clock.now,
    origin: 'node-1',
    ...(defaultTtlMs === undefined ? {} : { defaultTtlMs }),
  })
  // What a publisher hears: the store's changes that came from this cache.
  store.watch({
    stored: (record, source) => {
      if (source === 'local') published.push(record)
    },
    removed: () => {},
  })
  return { clock, published, store, cache }
}

describe('LocalSessionCache', () => {
  it('sets and gets a value, and publishes the stored record', () => {
    const { cache, published } = setup()
    const stored = cache.set('web', ID, bytes('secret'), 60_000)
    expect(stored).toMatchObject({ realm: 'web', created: NOW, expires: NOW + 60_000, origin: 'node-1' })
    expect(text(cache.get('web', ID)?.value)).toBe('secret')
    expect(published).toEqual([stored])
  })

  it('expires by the injected clock', () => {
    const { cache, clock } = setup()
    cache.set('web', ID, bytes('secret'), 1000)
    clock.now = NOW + 999
    expect(cache.get('web', ID)).toBeDefined()
    clock.now = NOW + 1000
    expect(cache.get('web', ID)).toBeUndefined()
  })

  it('uses the default TTL for 0 or a negative TTL, and caps one over the limit', () => {
    const { cache } = setup({ realms: ['web'], maxTtlMs: 3_600_000 })
    expect(cache.set('web', bytes('a'), bytes('v'), 0).expires).toBe(NOW + DEFAULT_TTL_MS)
    expect(cache.set('web', bytes('b'), bytes('v'), -5).expires).toBe(NOW + DEFAULT_TTL_MS)
    expect(cache.set('web', bytes('c'), bytes('v'), Number.NaN).expires).toBe(NOW + DEFAULT_TTL_MS)
    expect(cache.set('web', bytes('d'), bytes('v'), 7_200_000).expires).toBe(NOW + 3_600_000)
    expect(cache.set('web', bytes('e'), bytes('v'), Number.POSITIVE_INFINITY).expires).toBe(NOW + 3_600_000)
  })

  it('takes its default TTL from the options', () => {
    const { cache } = setup({ realms: ['web'] }, 10_000)
    expect(cache.set('web', ID, bytes('v'), 0).expires).toBe(NOW + 10_000)
  })

  it('overwrites within the same millisecond', () => {
    const { cache } = setup()
    cache.set('web', ID, bytes('first'), 60_000)
    const second = cache.set('web', ID, bytes('second'), 60_000)
    expect(second.created).toBe(NOW + 1)
    expect(text(cache.get('web', ID)?.value)).toBe('second')
  })

  it('overwrites its own record made while its clock was ahead (back from a peer after a restart)', () => {
    const { cache, store } = setup()
    store.merge(
      {
        realm: 'web',
        id: ID,
        value: bytes('mine, earlier'),
        created: NOW + 5000,
        expires: NOW + 9000,
        origin: 'node-1',
      },
      NOW,
    )
    expect(cache.set('web', ID, bytes('mine'), 60_000).created).toBe(NOW + 5001)
    expect(text(cache.get('web', ID)?.value)).toBe('mine')
  })

  it('deletes with a tombstone that outlives the copies of the value', () => {
    const { cache, published, store } = setup()
    const value = cache.set('web', ID, bytes('secret'), 60_000)
    expect(cache.delete('web', ID)).toBe(true)
    expect(cache.get('web', ID)).toBeUndefined()
    const tomb = published[1]
    expect(tomb).toMatchObject({ created: NOW + 1, expires: value.expires, origin: 'node-1' })
    expect(tomb?.value).toBeUndefined()
    // The value's copy arriving late from a peer stays deleted.
    expect(store.merge(value, NOW + 10)).toBe('stale')
    expect(cache.delete('web', ID)).toBe(false)
    expect(published).toHaveLength(2)
  })

  it('returns false when deleting or touching what is not there', () => {
    const { cache, published } = setup()
    expect(cache.delete('web', ID)).toBe(false)
    expect(cache.touch('web', ID, 1000)).toBe(false)
    expect(cache.delete('nope', ID)).toBe(false)
    expect(published).toEqual([])
  })

  it('touch moves the expiry and re-creates the record now', () => {
    const { cache, clock, published } = setup()
    cache.set('web', ID, bytes('secret'), 1000)
    clock.now = NOW + 500
    expect(cache.touch('web', ID, 10_000)).toBe(true)
    expect(published[1]).toMatchObject({ created: NOW + 500, expires: NOW + 10_500, origin: 'node-1' })
    clock.now = NOW + 5000
    expect(text(cache.get('web', ID)?.value)).toBe('secret')
  })

  it('touch can shorten the expiry', () => {
    const { cache, clock } = setup()
    cache.set('web', ID, bytes('secret'), 60_000)
    clock.now = NOW + 1
    cache.touch('web', ID, 10)
    clock.now = NOW + 11
    expect(cache.get('web', ID)).toBeUndefined()
  })

  it('throws typed errors for refused writes, and publishes nothing', () => {
    const { cache, published } = setup({ realms: ['web'], maxValueBytes: 100 })
    const cases: Array<[() => unknown, string, string]> = [
      [() => cache.set('bad realm', ID, bytes('v'), 0), InvalidRealmError.name, 'invalid-realm'],
      [() => cache.set('', ID, bytes('v'), 0), InvalidRealmError.name, 'invalid-realm'],
      [() => cache.set('mail', ID, bytes('v'), 0), UnknownRealmError.name, 'unknown-realm'],
      [() => cache.set('web', new Uint8Array(0), bytes('v'), 0), InvalidIdError.name, 'invalid-id'],
      [
        () => cache.set('web', new Uint8Array(MAX_ID_BYTES + 1), bytes('v'), 0),
        InvalidIdError.name,
        'invalid-id',
      ],
      [() => cache.set('web', ID, new Uint8Array(101), 0), RecordTooLargeError.name, 'too-large'],
    ]
    for (const [write, name, code] of cases) {
      expect(write).toThrow(expect.objectContaining({ name, code }))
    }
    expect(cache.set('web', ID, new Uint8Array(100), 0)).toBeDefined()
    expect(published).toHaveLength(1)
  })

  it('refuses a record over the whole realm budget', () => {
    const { cache } = setup({ realms: ['web'], maxBytesPerRealm: 1000 })
    expect(() => cache.set('web', ID, new Uint8Array(1000), 0)).toThrow(RecordTooLargeError)
  })

  it('refuses out-of-range options', () => {
    const store = createReplicaStore()
    expect(() => new LocalSessionCache({ store, origin: '' })).toThrow(InvalidOptionError)
    expect(() => new LocalSessionCache({ store, defaultTtlMs: 0 })).toThrow(/defaultTtlMs/)
  })

  it('touch makes a new version without the old proof, which does not cover it', () => {
    const { cache, clock, published, store } = setup()
    const stored = cache.set('web', ID, bytes('secret'), 1000)
    expect(store.attachProof(stored, proof('node-1'))).toBe(true)
    clock.now = NOW + 500
    expect(cache.touch('web', ID, 10_000)).toBe(true)
    expect(published[1]).toMatchObject({ created: NOW + 500, origin: 'node-1' })
    expect(published[1]?.proof).toBeUndefined()
    expect(store.peek('web', ID, clock.now)?.proof).toBeUndefined()
  })

  describe("another node's live record", () => {
    /** A store holding a value that 'node-2' made, seen by a cache whose origin is 'node-1'. */
    function withForeignRecord() {
      const s = setup()
      const foreign: SessionRecord = {
        realm: 'web',
        id: ID,
        value: bytes('theirs'),
        created: NOW - 1000,
        expires: NOW + 60_000,
        origin: 'node-2',
        proof: proof('node-2'),
      }
      expect(s.store.merge(foreign, NOW)).toBe('added')
      return { ...s, before: { ...s.store.peek('web', ID, NOW) } }
    }

    it.each<[string, (cache: LocalSessionCache) => unknown]>([
      ['set', (cache) => cache.set('web', ID, bytes('mine'), 60_000)],
      ['delete', (cache) => cache.delete('web', ID)],
      ['touch', (cache) => cache.touch('web', ID, 86_400_000)],
    ])('cannot be changed by %s (NotOwnerError), and stays as it was', (_op, write) => {
      const { cache, store, published, before } = withForeignRecord()
      expect(() => write(cache)).toThrow(
        expect.objectContaining({ name: NotOwnerError.name, code: 'not-owner' }),
      )
      expect({ ...store.peek('web', ID, NOW) }).toEqual(before)
      expect(text(cache.get('web', ID)?.value)).toBe('theirs')
      expect(published).toEqual([])
    })

    it('can be replaced once it has expired', () => {
      const { cache, clock } = withForeignRecord()
      clock.now = NOW + 60_000
      expect(cache.set('web', ID, bytes('mine'), 60_000)).toMatchObject({ origin: 'node-1' })
      expect(text(cache.get('web', ID)?.value)).toBe('mine')
    })
  })

  it('answers get with undefined for an unknown or invalid realm', () => {
    const { cache } = setup()
    expect(cache.get('mail', ID)).toBeUndefined()
    expect(cache.get('bad realm', ID)).toBeUndefined()
    expect(cache.get('web', new Uint8Array(0))).toBeUndefined()
  })
})
