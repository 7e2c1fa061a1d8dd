import { describe, expect, it } from 'vitest'
import { InvalidMeshKeyError } from '../src/errors.ts'
import { generateMeshKey, parseMeshKey } from '../src/mesh-key.ts'

const HEADER = '/key/swarm/psk/1.0.0/'
const HEX = 'a'.repeat(32) + 'B'.repeat(32)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

function refusal(contents: string | Uint8Array): InvalidMeshKeyError {
  try {
    parseMeshKey(contents)
  } catch (err) {
    if (err instanceof InvalidMeshKeyError) return err
    throw err
  }
  throw new Error('expected parseMeshKey to throw')
}

describe('mesh key', () => {
  it('parses what generateMeshKey writes, in the three-line libp2p format', () => {
    const key = generateMeshKey()
    const lines = text(key).split('\n')
    expect(lines).toEqual([HEADER, '/base16/', expect.stringMatching(/^[0-9a-f]{64}$/), ''])
    expect(text(parseMeshKey(key))).toBe(lines.slice(0, 3).join('\n'))
    expect(text(parseMeshKey(text(key)))).toBe(lines.slice(0, 3).join('\n'))
  })

  it('generates a different key each time', () => {
    expect(text(generateMeshKey())).not.toBe(text(generateMeshKey()))
  })

  it('accepts CRLF line ends and upper-case hex, and normalises them', () => {
    expect(text(parseMeshKey(`${HEADER}\r\n/base16/\r\n${HEX}\r\n`))).toBe(
      `${HEADER}\n/base16/\n${HEX.toLowerCase()}`,
    )
  })

  const bad: Record<string, { contents: string; names: RegExp }> = {
    'an empty file': { contents: '', names: /three lines/ },
    'a bare hex key': { contents: HEX, names: /three lines/ },
    'a wrong header': {
      contents: `/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`,
      names: /\/key\/swarm\/psk\/1\.0\.0\//,
    },
    'another encoding': { contents: `${HEADER}\n/base64/\n${HEX}`, names: /\/base16\// },
    'a short key': { contents: `${HEADER}\n/base16/\n${HEX.slice(2)}`, names: /64 hex digits/ },
    'a long key': { contents: `${HEADER}\n/base16/\n${HEX}00`, names: /64 hex digits/ },
    'non-hex digits': { contents: `${HEADER}\n/base16/\n${'g'.repeat(64)}`, names: /64 hex digits/ },
    'an extra line': { contents: `${HEADER}\n/base16/\n${HEX}\nmore`, names: /three lines/ },
  }
  for (const [name, { contents, names }] of Object.entries(bad)) {
    it(`refuses ${name}, saying what it expects`, () => {
      const err = refusal(contents)
      expect(err.name).toBe('InvalidMeshKeyError')
      expect(err.code).toBe('invalid-mesh-key')
      expect(err.message).toMatch(names)
    })
  }

  it('points at keygen when the file is not a key at all', () => {
    expect(refusal(new Uint8Array([0xff, 0x00, 0x13])).message).toContain('tlsmesh keygen')
  })
})
