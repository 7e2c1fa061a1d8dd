import { messageIdOf, type OutboundFrame } from '@tlsmesh/mesh'
import { BroadcastKind, encodeBroadcastFrame } from '@tlsmesh/wire'
import { recordNoOf } from './records.ts'

const idKey = (id: Uint8Array): string =>
  Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')

interface FrameCost {
  /** Its encoded size, as BroadcastService writes it (before the length prefix and Noise). */
  bytes: number
  /** The records it is about: one for a payload, one per id for an IHAVE or GRAFT. */
  records: number[]
  /** A payload's origin, as a peer name. */
  origin: string | undefined
}

/**
 * What the Plumtrees send, frame by frame and record by record: payload copies, announcements and
 * repairs, with their encoded sizes. A frame sent to several neighbours is one object (Plumtree
 * builds it once), so its size is computed once.
 */
export class Traffic {
  readonly payloadCopies: Float64Array
  readonly originSends: Float64Array
  readonly ihaveBytes: Float64Array
  readonly ihaveFrames: Float64Array
  readonly grafts: Float64Array
  prunes = 0
  readonly #recordOf = new Map<string, number>()
  readonly #costs = new WeakMap<OutboundFrame, FrameCost>()

  constructor(records: number) {
    this.payloadCopies = new Float64Array(records)
    this.originSends = new Float64Array(records)
    this.ihaveBytes = new Float64Array(records)
    this.ihaveFrames = new Float64Array(records)
    this.grafts = new Float64Array(records)
  }

  /** Makes a record's message id known, so that announcements of it are counted against it. */
  published(no: number, origin: Uint8Array, data: Uint8Array): void {
    this.#recordOf.set(idKey(messageIdOf(origin, data)), no)
  }

  /** Counts a frame sent by `from`; returns its encoded size. */
  count(from: string, frame: OutboundFrame): number {
    const cost = this.#cost(frame)
    switch (frame.kind) {
      case BroadcastKind.GOSSIP: {
        const no = cost.records[0]!
        this.payloadCopies[no]!++
        if (cost.origin === from) this.originSends[no]!++
        break
      }
      case BroadcastKind.IHAVE:
        // A frame announces several records at once: each is charged its share.
        for (const no of cost.records) {
          this.ihaveBytes[no]! += cost.bytes / cost.records.length
          this.ihaveFrames[no]! += 1 / cost.records.length
        }
        break
      case BroadcastKind.GRAFT:
        for (const no of cost.records) this.grafts[no]!++
        break
      case BroadcastKind.PRUNE:
        this.prunes++
        break
    }
    return cost.bytes
  }

  #cost(frame: OutboundFrame): FrameCost {
    let cost = this.#costs.get(frame)
    if (cost === undefined) {
      cost = {
        bytes: encodeBroadcastFrame(frame).byteLength,
        records: this.#recordsOf(frame),
        origin: frame.kind === BroadcastKind.GOSSIP ? idKey(frame.origin) : undefined,
      }
      this.#costs.set(frame, cost)
    }
    return cost
  }

  #recordsOf(frame: OutboundFrame): number[] {
    if (frame.kind === BroadcastKind.GOSSIP) return [recordNoOf(frame.data)]
    if (frame.kind === BroadcastKind.PRUNE) return []
    const records: number[] = []
    for (const id of frame.ids) {
      const no = this.#recordOf.get(idKey(id))
      if (no !== undefined) records.push(no)
    }
    return records
  }
}
