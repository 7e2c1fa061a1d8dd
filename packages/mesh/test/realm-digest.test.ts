import type { SessionRecord } from '@tlsmesh/store'
import { describe, expect, it } from 'vitest'
import { RealmDigest } from '../src/sync/realm-digest.ts'

const NOW = 1_800_000_000_000

function records(n: number): SessionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    realm: 'web',
    id: new TextEncoder().encode(`session-${i}`),
    value: new Uint8Array(8),
    created: NOW + i,
    expires: NOW + 300_000,
    origin: 'origin',
  }))
}

/** Every range's bounds and fingerprint down to `depth`, as a reconciliation reads them. */
function ranges(digest: RealmDigest, depth: number): string[] {
  const out: string[] = []
  for (let d = 0; d <= depth; d++) {
    for (let prefix = 0n; prefix < 16n ** BigInt(d); prefix++) {
      const [start, end] = digest.bounds(d, prefix)
      out.push(`${d}/${prefix}: ${start}-${end} ${digest.fingerprint(start, end)}`)
    }
  }
  return out
}

describe('RealmDigest.build, in slices', () => {
  it('gives the digest the constructor gives, range for range', async () => {
    const set = records(20_000)
    const sliced = await RealmDigest.build(set, { sliceMs: 1 })
    const whole = new RealmDigest(set)
    expect(sliced.size).toBe(20_000)
    expect(ranges(sliced, 2)).toEqual(ranges(whole, 2))
    const [start, end] = whole.bounds(3, 0x5a5n)
    expect(sliced.items(start, end)).toEqual(whole.items(start, end))
  })

  it('hands the event loop back while it works: other work runs before it ends', async () => {
    let ranMeanwhile = false
    setImmediate(() => {
      ranMeanwhile = true
    })
    const building = RealmDigest.build(records(5_000), { sliceMs: 0 }).then(() => ranMeanwhile)
    expect(await building).toBe(true)
  })

  it('stops when its signal aborts', async () => {
    const controller = new AbortController()
    const building = RealmDigest.build(records(50_000), { sliceMs: 1, signal: controller.signal })
    controller.abort(new Error('stopping'))
    await expect(building).rejects.toThrow('stopping')
  })
})
