// Set reconciliation cost: two replicas of `records` records that differ in `differ` (half missing
// on each side), reconciled through the real codec in one process; bytes exchanged against a full
// copy of the replica (every record encoded once). Records were published in batches of `batch`,
// each with one proof (signature and digests), which sync sends once per page that carries one of
// its records; signatures are random bytes, since nothing here checks them.
//   node --import tsx bench/sync-efficiency.ts [--records 100000] [--differ 100] [--batch 64] [--repeat 3]
import { parseArgs } from 'node:util'
import { answerQuery, answerRecords, RealmDigest, reconcile, syncKeyOf } from '@tlsmesh/mesh/sync'
import { createReplicaStore, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import {
  decodeSyncMessage,
  encodeBatch,
  encodeSyncMessage,
  SIGNATURE_BYTES,
  SyncKind,
  type SyncMessage,
} from '@tlsmesh/wire'
import { progress, spread, writeResult } from './lib/bench-report.ts'
import { publishedRecords } from './lib/published-records.ts'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    differ: { type: 'string', default: '100' },
    batch: { type: 'string', default: '64' },
    repeat: { type: 'string', default: '3' },
    out: { type: 'string', default: 'sync-efficiency' },
  },
})
const records = Number(values.records)
const differ = Number(values.differ)
const batch = Number(values.batch)
const REALM = 'bench'
const now = Date.now()
const published = (count: number): SessionRecord[] =>
  publishedRecords({ count, batch: batch, realm: REALM, now })
const side = (store: ReplicaStore) => ({
  realm: REALM,
  digest: new RealmDigest(store.entries(REALM, now)),
  receive: (message: SyncMessage, requested: (key: bigint) => boolean) => {
    for (const r of message.records) {
      requested(syncKeyOf(r.id))
      store.merge({ ...r, realm: REALM, proof: message.proofs[r.proof] }, now)
    }
  },
})

const ratios: number[] = []
const digestFirstMs: number[] = []
const digestAgainMs: number[] = []
const bytesRuns: number[] = []
const roundsRuns: number[] = []
for (let run = 0; run < Number(values.repeat); run++) {
  const init = { realms: [REALM], maxEntriesPerRealm: records + differ, maxBytesPerRealm: 1 << 30 }
  const a = createReplicaStore(init)
  const b = createReplicaStore(init)
  for (const r of published(records - differ)) {
    a.merge(r, now)
    b.merge(r, now)
  }
  // What each side missed was published while it was away: in batches of its own.
  for (const r of published(Math.floor(differ / 2))) a.merge(r, now)
  for (const r of published(Math.ceil(differ / 2))) b.merge(r, now)
  let fullCopy = 0
  const all = [...a.entries(REALM, now)]
  for (let i = 0; i < all.length; i += 1000) {
    const page = all
      .slice(i, i + 1000)
      .map((r) => ({ id: r.id, value: r.value!, created: r.created, expires: r.expires, origin: r.origin }))
    fullCopy += encodeBatch({
      realm: REALM,
      records: page,
      signature: new Uint8Array(SIGNATURE_BYTES),
    }).byteLength
  }
  // What each reconciliation costs a node before any byte moves: digesting its realm (the first time
  // a record is seen its hashes are computed; later digests reuse them).
  for (const list of [digestFirstMs, digestAgainMs]) {
    const started = performance.now()
    new RealmDigest(b.entries(REALM, now))
    list.push(performance.now() - started)
  }
  const responder = side(b)
  let bytes = 0
  const result = await reconcile(side(a), async (message) => {
    const request = encodeSyncMessage(message)
    bytes += request.byteLength
    const decoded = decodeSyncMessage(request)
    const reply = encodeSyncMessage(
      decoded.kind === SyncKind.QUERY ? answerQuery(responder, decoded) : answerRecords(responder, decoded),
    )
    bytes += reply.byteLength
    return decodeSyncMessage(reply)
  })
  const equal =
    new RealmDigest(a.entries(REALM, now)).fingerprint(0, records) ===
    new RealmDigest(b.entries(REALM, now)).fingerprint(0, records)
  ratios.push(bytes / fullCopy)
  bytesRuns.push(bytes)
  roundsRuns.push(result.rounds)
  progress(
    `run ${run + 1}: ${bytes} bytes exchanged in ${result.rounds} rounds (${result.pushed} pushed, ${result.pulled} pulled) = ` +
      `${((bytes / fullCopy) * 100).toFixed(2)}% of a full copy (${fullCopy} bytes); converged: ${equal}; ` +
      `digest of ${records} records ${digestFirstMs.at(-1)!.toFixed(0)} ms, then ${digestAgainMs.at(-1)!.toFixed(0)} ms`,
  )
}
const out = {
  records,
  differ,
  batch,
  bytes: spread(bytesRuns),
  rounds: spread(roundsRuns),
  ratioToFullCopy: spread(ratios),
  digestFirstMs: spread(digestFirstMs),
  digestAgainMs: spread(digestAgainMs),
}
console.log(JSON.stringify(out, null, 2))
progress(`wrote ${writeResult(values.out, out)}`)
