import { describe, expect, it } from 'vitest'
import {
  type BroadcastFrame,
  BroadcastKind,
  decodeBatch,
  decodeBroadcastFrame,
  encodeBatch,
  encodeBroadcastFrame,
  WIRE_VERSION,
  WireDecodeError,
} from '../src/index.ts'
import { BroadcastFrame as RawFrame } from '../src/messages.generated.ts'
import { batch, bytes, record, SIGNATURE } from './fixtures.ts'

const id = (fill: number): Uint8Array => new Uint8Array(20).fill(fill)

describe('broadcast frames', () => {
  it('round-trip each kind with the fields it carries', () => {
    const frames: BroadcastFrame[] = [
      {
        kind: BroadcastKind.GOSSIP,
        realm: 'web',
        origin: new Uint8Array([1, 2, 3]),
        data: new Uint8Array([4, 5]),
        hops: 3,
      },
      { kind: BroadcastKind.IHAVE, realm: 'web', ids: [id(1), id(2)], hops: 2 },
      { kind: BroadcastKind.GRAFT, realm: 'web', ids: [id(3)] },
      { kind: BroadcastKind.PRUNE, realm: 'web', full: true },
    ]
    for (const frame of frames) expect(decodeBroadcastFrame(encodeBroadcastFrame(frame))).toEqual(frame)
  })

  it('carries no signature beside a GOSSIP payload: the batch in `data` carries its own', () => {
    const data = encodeBatch(batch('web', [record()]))
    const frame: BroadcastFrame = {
      kind: BroadcastKind.GOSSIP,
      realm: 'web',
      origin: bytes(38, 1),
      data,
      hops: 0,
    }
    const decoded = decodeBroadcastFrame(encodeBroadcastFrame(frame))
    expect(decoded).toStrictEqual(frame)
    expect(decoded.kind === BroadcastKind.GOSSIP && decodeBatch(decoded.data).signature).toEqual(SIGNATURE)
  })

  it('skips a signature field (6, written by version 1) rather than surface it', () => {
    const frame = RawFrame.encode({
      version: WIRE_VERSION,
      kind: BroadcastKind.GOSSIP,
      realm: 'web',
      origin: bytes(3, 1),
      data: bytes(2, 4),
      ids: [],
      hops: 1,
      full: false,
    })
    const withSignature = new Uint8Array([...frame, 0x32, 64, ...bytes(64, 7)])
    expect(decodeBroadcastFrame(withSignature)).toStrictEqual(decodeBroadcastFrame(frame))
  })

  it('refuses a version 1 frame as unsupported', () => {
    const frame = RawFrame.encode({
      version: 1,
      kind: BroadcastKind.PRUNE,
      realm: 'web',
      origin: new Uint8Array(0),
      data: new Uint8Array(0),
      ids: [],
      hops: 0,
      full: true,
    })
    expect(() => decodeBroadcastFrame(frame)).toThrow(
      expect.objectContaining({ code: 'unsupported-version' }),
    )
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
