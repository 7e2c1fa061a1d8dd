// Records as an origin publishes them, for benchmarks of catch-up that run without a mesh: in
// batches, each sharing its batch's proof, whose signature is random bytes (nothing checks it there).
import { randomBytes } from 'node:crypto'
import type { RecordProof, SessionRecord } from '@tlsmesh/store'
import { recordDigests, SIGNATURE_BYTES } from '@tlsmesh/wire'

/** A peer id the benchmarks' records name as their origin. */
export const BENCH_ORIGIN = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

/** `count` sessions of `realm`, 200-byte values, made a second before `now` for an hour. */
export function publishedRecords(init: {
  count: number
  batch: number
  realm: string
  now: number
}): SessionRecord[] {
  const { count, batch, realm, now } = init
  const out: SessionRecord[] = []
  for (let i = 0; i < count; i += batch) {
    const group = Array.from({ length: Math.min(batch, count - i) }, () => ({
      realm,
      id: randomBytes(32),
      value: randomBytes(200),
      created: now - 1000,
      expires: now + 3_600_000,
      origin: BENCH_ORIGIN,
    }))
    const proof: RecordProof = {
      origin: BENCH_ORIGIN,
      signature: randomBytes(SIGNATURE_BYTES),
      digests: recordDigests(group),
    }
    for (const r of group) out.push({ ...r, proof })
  }
  return out
}
