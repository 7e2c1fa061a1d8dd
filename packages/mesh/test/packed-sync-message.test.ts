import { MessageChannel } from 'node:worker_threads'
import { DEFAULT_SYNC_LIMITS, SyncKind, type SyncMessage, SyncProofTable } from '@tlsmesh/wire'
import { beforeAll, describe, expect, it } from 'vitest'
import { packSyncMessage, transferList, unpackSyncMessage } from '../src/sync/packed-sync-message.ts'
import { RecordPage } from '../src/sync/set-reconciliation.ts'
import { createSigner, publishedRecords, type Signer } from './signed-records.ts'

// What crosses between sync's transport and its replica side on another thread.

const REALM = 'web'
const NOW = 1_800_000_000_000

let signer: Signer
beforeAll(async () => {
  signer = await createSigner()
})

const message = (fields: Partial<SyncMessage>): SyncMessage => ({
  kind: SyncKind.ANSWER,
  realm: REALM,
  ranges: [],
  records: [],
  proofs: [],
  wanted: [],
  ...fields,
})

/** Posts `packed` through a real port, its buffers transferred; resolves with what arrived. */
function cross<T>(value: T, transfer: ArrayBuffer[]): Promise<T> {
  const { port1, port2 } = new MessageChannel()
  return new Promise<T>((resolve) => {
    port2.once('message', (arrived: T) => {
      port1.close()
      port2.close()
      resolve(arrived)
    })
    port1.postMessage(value, transfer)
  })
}

describe('packed sync messages', () => {
  it('carry ranges, listed or bare, listed with no items, and the wanted keys, through a port', async () => {
    const original = message({
      ranges: [
        { depth: 0, prefix: 0n, fingerprint: 2n ** 64n - 1n, count: 1_000_000 },
        { depth: 3, prefix: 0xabcn, fingerprint: 7n, count: 2, items: [] },
        {
          depth: 16,
          prefix: 2n ** 64n - 2n,
          fingerprint: 9n,
          count: 2,
          items: [
            { key: 1n, fingerprint: 2n },
            { key: 2n ** 64n - 1n, fingerprint: 3n },
          ],
        },
      ],
      wanted: [5n, 2n ** 63n],
    })
    const packed = packSyncMessage(original, new SyncProofTable())
    const transfer = transferList(packed)
    expect(transfer.length).toBeGreaterThanOrEqual(9)
    const arrived = await cross(packed, transfer)
    // Transferred, not copied: the sender's arrays are empty now.
    expect(packed.ranges?.prefixes.length).toBe(0)
    const unpacked = unpackSyncMessage(arrived, new SyncProofTable(), DEFAULT_SYNC_LIMITS)
    expect(unpacked).toEqual(original)
    expect('items' in unpacked.ranges[0]!).toBe(false)
  })

  it("carry a page's records with their proofs, each proof in full once a session and by number after", async () => {
    const records = publishedRecords(signer, NOW, 4, { realm: REALM })
    const sent = new SyncProofTable()
    const received = new SyncProofTable()
    const pages = [records.slice(0, 2), records.slice(2)].map((part) => {
      const page = new RecordPage()
      for (const r of part) page.add(r)
      return message({ kind: SyncKind.RECORDS, records: page.records, proofs: page.proofs, wanted: [3n] })
    })
    const packed = pages.map((page) => packSyncMessage(page, sent))
    // The batch's proof in full in the first page, by its number in the second.
    expect(packed[0]!.page!.proofs[0]).toEqual(records[0]!.proof)
    expect(packed[1]!.page!.proofs).toEqual([0])
    const unpacked = []
    for (const one of packed) {
      unpacked.push(unpackSyncMessage(await cross(one, transferList(one)), received, DEFAULT_SYNC_LIMITS))
    }
    for (const [i, page] of pages.entries()) {
      expect(unpacked[i]!.records).toEqual(page.records)
      expect(unpacked[i]!.wanted).toEqual([3n])
    }
    // One object for the batch's proof on this side too: the records stored share it.
    expect(unpacked[1]!.proofs[0]).toBe(unpacked[0]!.proofs[0])
    expect(unpacked[0]!.proofs[0]).toEqual(records[0]!.proof)
  })

  it('carry a tombstone, and refuse a page over the limits or whose buffer its records do not fill', () => {
    const [live, dead] = publishedRecords(signer, NOW, 2, { realm: REALM })
    const page = new RecordPage()
    page.add(live!)
    page.add({ ...dead!, value: undefined })
    const original = message({ kind: SyncKind.RECORDS, records: page.records, proofs: page.proofs })
    const unpack = (packed: ReturnType<typeof packSyncMessage>, limits = DEFAULT_SYNC_LIMITS) =>
      unpackSyncMessage(packed, new SyncProofTable(), limits)
    const back = unpack(packSyncMessage(original, new SyncProofTable()))
    expect(back.records).toEqual(original.records)
    expect('value' in back.records[1]!).toBe(false)
    const packed = () => packSyncMessage(original, new SyncProofTable())
    expect(() => unpack(packed(), { ...DEFAULT_SYNC_LIMITS, maxRecords: 1 })).toThrow('over the limits')
    expect(() => unpack(packed(), { ...DEFAULT_SYNC_LIMITS, maxValueBytes: 8 })).toThrow(
      'over the id or value limit',
    )
    const truncated = packed()
    truncated.page!.records = truncated.page!.records.slice(0, truncated.page!.records.byteLength - 1)
    expect(() => unpack(truncated)).toThrow(RangeError)
    const padded = packed()
    const longer = new Uint8Array(padded.page!.records.byteLength + 1)
    longer.set(new Uint8Array(padded.page!.records))
    padded.page!.records = longer.buffer
    expect(() => unpack(padded)).toThrow('do not fill')
  })

  it('refuses a page that names a proof this session never carried', () => {
    const records = publishedRecords(signer, NOW, 1, { realm: REALM })
    const sent = new SyncProofTable()
    const page = new RecordPage()
    page.add(records[0]!)
    const first = message({ kind: SyncKind.RECORDS, records: page.records, proofs: page.proofs })
    packSyncMessage(first, sent)
    const second = packSyncMessage(first, sent)
    expect(() => unpackSyncMessage(second, new SyncProofTable(), DEFAULT_SYNC_LIMITS)).toThrow('never sent')
  })
})
