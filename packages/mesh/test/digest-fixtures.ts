import type { RecordProof, ReplicaStore, SessionRecord } from '@tlsmesh/store'
import { IncrementalDigest } from '../src/sync/incremental-digest.ts'

const digests = new WeakMap<ReplicaStore, IncrementalDigest>()

/**
 * The live digest of `store`'s realm `realm` (one per store), as a node keeps it: what the store
 * holds now, then every change it reports. Its clock is `now`, read at each query.
 */
export function liveDigest(store: ReplicaStore, realm: string, now: () => number): IncrementalDigest {
  let digest = digests.get(store)
  if (digest === undefined) {
    const live = new IncrementalDigest(now)
    for (const record of store.entries(realm, now())) live.add(record)
    store.watch({
      stored: (record) => record.realm === realm && live.add(record),
      removed: (record) => record.realm === realm && live.remove(record),
    })
    digests.set(store, live)
    digest = live
  }
  return digest
}

/** Record `i` of `realm`: id `session-<i>`, made at `now` for five minutes, unless `fields` say otherwise. */
export function numberedRecord(
  realm: string,
  now: number,
  i: number,
  fields: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    realm,
    id: new TextEncoder().encode(`session-${i}`),
    value: new Uint8Array(8),
    created: now,
    expires: now + 300_000,
    origin: 'origin',
    ...fields,
  }
}

/**
 * A proof that decodes (a 64-byte signature, one digest) and proves nothing: for records that travel
 * to sides that check only whether they asked for them, where signing would cost more than the test.
 */
export const UNCHECKED_PROOF: RecordProof = Object.freeze({
  origin: 'origin',
  signature: new Uint8Array(64),
  digests: new Uint8Array(16),
})
