import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { binaryRequest, Op, storeExtras, u32 } from './raw-clients.ts'
import { runSession, splitAt } from './session-harness.ts'

const TEXT_SCRIPT = Buffer.from(
  'set a 1 0 5\r\nhe\r\no\r\nadd b 0 0 0 noreply\r\n\r\nget a b c\r\ngets a\r\nappend a 0 0 1\r\n!\r\n' +
    'touch a 10\r\ngat 20 a\r\ndelete b\r\nbogus\r\nversion\r\nverbosity 1\nincr a 1\r\nquit\r\nget a\r\n',
  'latin1',
)

const BINARY_SCRIPT = Buffer.concat([
  binaryRequest({ opcode: Op.set, key: 'a', value: 'hello', extras: storeExtras(1, 0), opaque: 1 }),
  binaryRequest({ opcode: Op.getq, key: 'missing', opaque: 2 }),
  binaryRequest({ opcode: Op.getk, key: 'a', opaque: 3 }),
  binaryRequest({ opcode: Op.append, key: 'a', value: '!', opaque: 4 }),
  binaryRequest({ opcode: Op.touch, key: 'a', extras: u32(10), opaque: 5 }),
  binaryRequest({ opcode: Op.gatkq, key: 'a', extras: u32(20), opaque: 6 }),
  binaryRequest({ opcode: 0x42, key: 'x', value: 'y', opaque: 7 }),
  binaryRequest({
    opcode: Op.setq,
    key: 'big',
    value: Buffer.alloc(1300),
    extras: storeExtras(0, 0),
    opaque: 8,
  }),
  binaryRequest({ opcode: Op.deleteq, key: 'a', opaque: 9 }),
  binaryRequest({ opcode: Op.noop, opaque: 10 }),
  binaryRequest({ opcode: Op.quit, opaque: 11 }),
  binaryRequest({ opcode: Op.noop, opaque: 12 }),
])

describe('framing', () => {
  for (const [name, script] of [
    ['text', TEXT_SCRIPT],
    ['binary', BINARY_SCRIPT],
  ] as const) {
    it(`${name}: the same replies wherever the input is split`, () => {
      const whole = runSession([script])
      expect(whole.closed).toBe(true)
      expect(whole.output.length).toBeGreaterThan(0)
      for (let cut = 1; cut < script.length; cut++) {
        const split = runSession(splitAt(script, [cut]))
        expect(split.output.equals(whole.output), `split at ${cut}`).toBe(true)
      }
      const byteByByte = runSession(
        splitAt(
          script,
          Array.from({ length: script.length }, (_, i) => i),
        ),
      )
      expect(byteByByte.output.equals(whole.output)).toBe(true)
    })

    it(`${name}: the same replies for any split into several pieces`, () => {
      fc.assert(
        fc.property(fc.array(fc.nat({ max: script.length }), { maxLength: 20 }), (cuts) => {
          expect(runSession(splitAt(script, cuts)).output.equals(runSession([script]).output)).toBe(true)
        }),
        { numRuns: 200 },
      )
    })
  }

  it('text replies, byte for byte', () => {
    const { output } = runSession([TEXT_SCRIPT])
    expect(output.toString('latin1')).toMatch(
      new RegExp(
        '^STORED\\r\\nVALUE a 1 5\\r\\nhe\\r\\no\\r\\nVALUE b 0 0\\r\\n\\r\\nEND\\r\\nVALUE a 1 5 \\d+\\r\\nhe\\r\\no\\r\\nEND\\r\\n' +
          'STORED\\r\\nTOUCHED\\r\\nVALUE a 1 6\\r\\nhe\\r\\no!\\r\\nEND\\r\\nDELETED\\r\\nERROR\\r\\nVERSION v\\r\\nOK\\r\\n' +
          'SERVER_ERROR incr and decr are not supported: values are opaque\\r\\n$',
      ),
    )
  })
})

describe('random input never escapes the parser', () => {
  const prefixes = [
    '',
    'set k 0 0 5\r\n',
    'get ',
    'cas k 0 0 3 ',
    'gat ',
    'delete ',
    'touch k ',
    'set k 0 0 ',
  ].map((s) => Buffer.from(s, 'latin1'))

  it('text: random bytes after a plausible prefix', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes),
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat({ max: 700 }), { maxLength: 8 }),
        (prefix, noise, cuts) => {
          const input = Buffer.concat([prefix, Buffer.from(noise)])
          // Must not throw, and must not depend on how the bytes were split.
          const whole = runSession([input])
          const split = runSession(splitAt(input, cuts))
          expect(split.output.equals(whole.output)).toBe(true)
          expect(split.closed).toBe(whole.closed)
          // What is left unparsed is bounded by the line limit (512 here) or one value (1024).
          expect(whole.leftover).toBeLessThanOrEqual(1024 + 2)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('binary: random headers and bodies', () => {
    const header = fc
      .record({
        opcode: fc.oneof(fc.constantFrom(...Object.values(Op)), fc.nat({ max: 255 })),
        key: fc.uint8Array({ maxLength: 260 }),
        extras: fc.uint8Array({ maxLength: 24 }),
        value: fc.uint8Array({ maxLength: 1100 }),
        cas: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      })
      .map((req) => binaryRequest(req))
    fc.assert(
      fc.property(
        fc.array(fc.oneof(header, fc.uint8Array({ minLength: 1, maxLength: 40 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 8 }),
        (parts, cuts) => {
          const input = Buffer.concat([Buffer.from([0x80]), ...parts])
          const whole = runSession([input])
          const split = runSession(splitAt(input, cuts))
          expect(split.output.equals(whole.output)).toBe(true)
          expect(split.closed).toBe(whole.closed)
          // A response is always a whole header plus its body.
          let offset = 0
          while (offset < whole.output.length) {
            expect(whole.output[offset]).toBe(0x81)
            offset += 24 + whole.output.readUInt32BE(offset + 8)
          }
          expect(offset).toBe(whole.output.length)
        },
      ),
      { numRuns: 500 },
    )
  })
})
