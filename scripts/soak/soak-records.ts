// Record ids of the churn soak: who published a record and its sequence number, so that a receiver
// can tell what it misses in fixed memory (a bitmap per origin, sized up front: the soak measures the
// node's memory and must not grow it itself).

const MAGIC = 0x736f616b // "soak"
const ID_BYTES = 12

export function encodeSoakRecordId(origin: number, seq: number): Uint8Array {
  const id = new Uint8Array(ID_BYTES)
  const view = new DataView(id.buffer)
  view.setUint32(0, MAGIC)
  view.setUint32(4, origin)
  view.setUint32(8, seq)
  return id
}

export function decodeSoakRecordId(id: Uint8Array): { origin: number; seq: number } | undefined {
  if (id.byteLength !== ID_BYTES) return undefined
  const view = new DataView(id.buffer, id.byteOffset, id.byteLength)
  if (view.getUint32(0) !== MAGIC) return undefined
  return { origin: view.getUint32(4), seq: view.getUint32(8) }
}

/** Which records of each origin arrived, at least once. */
export class ReceivedRecords {
  private readonly bits: Uint8Array[]
  private readonly counts: number[]
  private readonly capacity: number

  constructor(origins: number, capacity: number) {
    this.capacity = capacity
    this.bits = Array.from({ length: origins }, () => new Uint8Array(Math.ceil(capacity / 8)))
    this.counts = Array.from({ length: origins }, () => 0)
  }

  add(origin: number, seq: number): void {
    const bits = this.bits[origin]
    if (bits === undefined || seq >= this.capacity) return
    const mask = 1 << (seq & 7)
    const byte = bits[seq >> 3]!
    if ((byte & mask) !== 0) return
    bits[seq >> 3] = byte | mask
    this.counts[origin] = (this.counts[origin] ?? 0) + 1
  }

  count(origin: number): number {
    return this.counts[origin] ?? 0
  }

  /** The first `max` runs of sequence numbers below `upTo` that never arrived, as [from, to] inclusive. */
  missingRanges(origin: number, upTo: number, max: number): Array<[number, number]> {
    const bits = this.bits[origin]
    const ranges: Array<[number, number]> = []
    if (bits === undefined) return ranges
    let start = -1
    for (let seq = 0; seq <= upTo && ranges.length < max; seq++) {
      const present = seq < upTo && ((bits[seq >> 3] ?? 0) & (1 << (seq & 7))) !== 0
      if (!present && seq < upTo && start < 0) start = seq
      if ((present || seq === upTo) && start >= 0) {
        ranges.push([start, seq - 1])
        start = -1
      }
    }
    return ranges
  }

  total(): number {
    return this.counts.reduce((a, b) => a + b, 0)
  }
}
