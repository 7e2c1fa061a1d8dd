import { expect, it } from 'vitest'
import { decodeBatch, decodeSyncMessage, encodeBatch, encodeSyncMessage, SyncKind } from '../src/index.ts'
import { SIGNATURE } from './fixtures.ts'

it('uint64 values in [2^31, 2^32) survive encode and decode', () => {
  const batch = {
    realm: 'web',
    records: [
      {
        id: new Uint8Array([1, 2, 3]),
        value: new Uint8Array([4]),
        created: 3_000_000_000,
        expires: 3_000_060_000,
      },
    ],
    signature: SIGNATURE,
  }
  expect(decodeBatch(encodeBatch(batch)).records[0]).toMatchObject({
    created: 3_000_000_000,
    expires: 3_000_060_000,
  })
  const sync = decodeSyncMessage(
    encodeSyncMessage({
      kind: SyncKind.QUERY,
      realm: 'web',
      ranges: [{ depth: 8, prefix: 0x80000000n, fingerprint: 1n, count: 1 }],
      records: [],
      proofs: [],
      wanted: [],
    }),
  )
  expect(sync.ranges[0]!.prefix).toBe(0x80000000n)
})
