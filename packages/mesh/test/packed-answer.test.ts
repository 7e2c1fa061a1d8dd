import type { SessionRecord } from '@tlsmesh/store'
import { SyncKind, type SyncRange } from '@tlsmesh/wire'
import { describe, expect, it } from 'vitest'
import { IncrementalDigest } from '../src/sync/incremental-digest.ts'
import type { KeyRangeDigest } from '../src/sync/key-range.ts'
import { answerPackedQuery } from '../src/sync/packed-answer.ts'
import { packRanges, unpackRanges } from '../src/sync/packed-sync-message.ts'
import { answerQuery, ListedRanges } from '../src/sync/set-reconciliation.ts'
import { syncKeyOf } from '../src/sync/sync-keys.ts'
import { TimeSlice } from '../src/sync/time-slice.ts'
import { numberedRecord } from './digest-fixtures.ts'

const REALM = 'web'
const NOW = 1_800_000_000_000

function digestOf(records: SessionRecord[]): IncrementalDigest {
  const digest = new IncrementalDigest(() => NOW)
  for (const record of records) digest.add(record)
  return digest
}

/** The query an initiator holding `digest` sends about (depth, prefix) for each of `prefixes`. */
function queryOf(digest: KeyRangeDigest, depth: number, prefixes: Iterable<bigint>): SyncRange[] {
  return [...prefixes].map((prefix) => ({ depth, prefix, ...digest.range(depth, prefix) }))
}

function* everyPrefix(depth: number): Generator<bigint> {
  for (let prefix = 0n; prefix < 16n ** BigInt(depth); prefix++) yield prefix
}

/** The responder's answer both ways, and what each answer's listing lets the initiator push. */
async function bothAnswers(responder: IncrementalDigest, query: SyncRange[], probe: bigint[]) {
  const listedAsObjects = new ListedRanges()
  const asObjects = answerQuery(
    {
      realm: REALM,
      digest: responder,
      listed: listedAsObjects,
      receive: () => {
        throw new Error('a query stores nothing')
      },
    },
    { kind: SyncKind.QUERY, realm: REALM, ranges: query, records: [], proofs: [], wanted: [] },
  )
  const listedPacked = new ListedRanges()
  const packed = await answerPackedQuery(responder, packRanges(query), listedPacked, new TimeSlice(0.25))
  return {
    asObjects: asObjects.ranges,
    packed: unpackRanges(packed),
    coveredAsObjects: probe.filter((key) => listedAsObjects.covers(key)),
    coveredPacked: probe.filter((key) => listedPacked.covers(key)),
  }
}

describe('answerPackedQuery', () => {
  // The responder holds 6,000 records; the initiator lacks a tenth, holds another version of a tenth,
  // and holds 300 of its own.
  const held = Array.from({ length: 6000 }, (_, i) => numberedRecord(REALM, NOW, i))
  const responder = digestOf(held)
  const initiator = digestOf([
    ...held.filter((_, i) => i % 10 !== 0).map((r, i) => (i % 10 === 1 ? { ...r, created: NOW - 1 } : r)),
    ...Array.from({ length: 300 }, (_, i) => numberedRecord(REALM, NOW, 100_000 + i)),
  ])
  const keys = held.map((record) => syncKeyOf(record.id))
  const probe = [
    ...keys,
    ...Array.from({ length: 300 }, (_, i) => syncKeyOf(numberedRecord(REALM, NOW, 100_000 + i).id)),
  ]

  const cases: Array<[string, () => SyncRange[]]> = [
    ['the whole realm', () => queryOf(initiator, 0, [0n])],
    [
      'every range of depths 1 and 2',
      () => [...queryOf(initiator, 1, everyPrefix(1)), ...queryOf(initiator, 2, everyPrefix(2))],
    ],
    // About 1.5 records a range: most are listed until the answer's 2,048 items are spent, the rest bare.
    ["every bucket (depth 3), past the answer's item budget", () => queryOf(initiator, 3, everyPrefix(3))],
    [
      'ranges below a bucket (depths 4, 5, 9)',
      () => [
        ...queryOf(
          initiator,
          4,
          keys.slice(0, 1000).map((key) => key >> 48n),
        ),
        ...queryOf(
          initiator,
          5,
          keys.slice(1000, 2000).map((key) => key >> 44n),
        ),
        ...queryOf(
          initiator,
          9,
          keys.slice(2000, 2500).map((key) => key >> 28n),
        ),
      ],
    ],
    // Every key of 4,096 is listed, whatever the budget: more items than an answer's first columns hold.
    [
      '4,096 single keys (depth 16) the initiator lacks',
      () => keys.slice(0, 4096).map((key) => ({ depth: 16, prefix: key, fingerprint: 0n, count: 0 })),
    ],
    [
      'the last range of each depth, whose end lies past every key',
      () =>
        Array.from({ length: 16 }, (_, i) => i + 1).flatMap((depth) =>
          queryOf(initiator, depth, [16n ** BigInt(depth) - 1n]),
        ),
    ],
  ]

  it.each(cases)('answers %s as the object answer does', async (_, query) => {
    const { asObjects, packed, coveredAsObjects, coveredPacked } = await bothAnswers(
      responder,
      query(),
      probe,
    )
    expect(asObjects.length).toBeGreaterThan(0)
    expect(packed).toEqual(asObjects)
    expect(coveredPacked).toEqual(coveredAsObjects)
  })

  it('answers nothing for ranges both sides hold alike', async () => {
    const { packed } = await bothAnswers(responder, queryOf(responder, 3, everyPrefix(3)), probe)
    expect(packed).toEqual([])
  })

  it('reads the digest as it is at each range: records expired by then are not listed', async () => {
    let now = NOW
    const digest = new IncrementalDigest(() => now)
    for (let i = 0; i < 100; i++)
      digest.add(numberedRecord(REALM, NOW, i, { expires: NOW + (i < 50 ? 10 : 1000) }))
    now = NOW + 20
    const answer = unpackRanges(
      await answerPackedQuery(
        digest,
        packRanges([{ depth: 0, prefix: 0n, fingerprint: 0n, count: 0 }]),
        undefined,
        new TimeSlice(1),
      ),
    )
    expect(answer).toHaveLength(1)
    expect(answer[0]!.count).toBe(50)
    expect(answer[0]!.items).toHaveLength(50)
  })
})
