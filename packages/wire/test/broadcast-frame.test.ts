import { describe, expect, it } from 'vitest'
import {
  type BroadcastFrame,
  BroadcastKind,
  decodeBroadcastFrame,
  encodeBroadcastFrame,
  WireDecodeError,
} from '../src/index.ts'

const id = (fill: number): Uint8Array => new Uint8Array(20).fill(fill)

describe('broadcast frames', () => {
  it('round-trip each kind with the fields it carries', () => {
    const frames: BroadcastFrame[] = [
      {
        kind: BroadcastKind.GOSSIP,
        realm: 'web',
        origin: new Uint8Array([1, 2, 3]),
        data: new Uint8Array([4, 5]),
        signature: new Uint8Array(64).fill(7),
        hops: 3,
      },
      { kind: BroadcastKind.IHAVE, realm: 'web', ids: [id(1), id(2)], hops: 2 },
      { kind: BroadcastKind.GRAFT, realm: 'web', ids: [id(3)] },
      { kind: BroadcastKind.PRUNE, realm: 'web', full: true },
    ]
    for (const frame of frames) expect(decodeBroadcastFrame(encodeBroadcastFrame(frame))).toEqual(frame)
  })

  it('refuses ids of the wrong length and more ids than the limit', () => {
    const short = encodeBroadcastFrame({
      kind: BroadcastKind.IHAVE,
      realm: 'web',
      ids: [new Uint8Array(8)],
      hops: 0,
    })
    expect(() => decodeBroadcastFrame(short)).toThrow(WireDecodeError)
    const many = encodeBroadcastFrame({ kind: BroadcastKind.GRAFT, realm: 'web', ids: [id(1), id(2), id(3)] })
    expect(() => decodeBroadcastFrame(many, { maxIds: 2 })).toThrow(WireDecodeError)
  })
})
