// Fills one ReplicaStore with `count` records in a fresh process (run with --expose-gc) and prints
// heap and RSS growth against the payload bytes, as one JSON line. With `digest`, the store is
// followed by the catch-up digest a mesh node keeps of it, as in a running node. With `proofBatch`,
// every that many records share a proof, as the records of one signed batch do in a node: the
// origin's 64-byte signature and the batch's 16-byte record digests.
import { randomBytes } from 'node:crypto'
import { RealmDigests } from '@tlsmesh/mesh/sync'
import { createReplicaStore, type RecordProof } from '@tlsmesh/store'

const {
  count,
  valueBytes,
  digest,
  proofBatch = 0,
} = JSON.parse(process.argv[2] ?? '{}') as {
  count: number
  valueBytes: number
  digest?: boolean
  proofBatch?: number
}
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')
const settle = (): void => {
  for (let i = 0; i < 3; i++) gc()
}
const now = Date.now()
// One shared random pool: the records' bytes are copied into the store (it keeps its own copies).
const pool = randomBytes(1 << 20)
// Before the store is made: it allocates its caches' per-entry arrays then, for maxEntriesPerRealm.
settle()
const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
const rssBefore = process.memoryUsage().rss
const store = createReplicaStore({
  realms: ['bench'],
  maxEntriesPerRealm: count,
  maxBytesPerRealm: Number.MAX_SAFE_INTEGER,
})
const digests = digest === true ? new RealmDigests(['bench'], { store, now: () => now }) : undefined
digests?.start()
await digests?.of('bench')
const origin = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
let proof: RecordProof | undefined
for (let i = 0; i < count; i++) {
  if (proofBatch > 0 && i % proofBatch === 0) {
    const signature = new Uint8Array(randomBytes(64))
    proof = { origin, signature, digests: new Uint8Array(randomBytes(16 * proofBatch)) }
  }
  const offset = (i * 97) % (pool.length - 32 - valueBytes)
  store.merge(
    {
      realm: 'bench',
      id: pool.subarray(offset, offset + 32),
      value: pool.subarray(offset + 32, offset + 32 + valueBytes),
      created: now,
      expires: now + 3_600_000,
      origin,
      proof,
    },
    now,
  )
  // Make every id distinct: the pool is reused.
  pool.writeUInt32BE(i, offset)
}
await digests?.of('bench')
settle()
const memory = process.memoryUsage()
const heapGrowth = memory.heapUsed + memory.arrayBuffers - heapBefore
const payload = count * (32 + valueBytes)
process.stdout.write(
  `${JSON.stringify({
    count,
    digest: digests !== undefined,
    proofBatch,
    entries: store.stats().entries,
    payloadBytes: payload,
    heapGrowthBytes: heapGrowth,
    rssGrowthBytes: memory.rss - rssBefore,
    totalOverPayload: heapGrowth / payload,
    overheadOverPayload: (heapGrowth - payload) / payload,
    bytesPerRecord: heapGrowth / count,
  })}\n`,
)
