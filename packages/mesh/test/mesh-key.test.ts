import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidMeshKeyError, KeyFilePermissionsError } from '../src/errors.ts'
import { generateMeshKey, parseMeshKey, readMeshKeyFile } from '../src/mesh-key.ts'

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

describe('readMeshKeyFile', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlsmesh-mesh-key-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** chmod after writing: `writeFile`'s mode is cut by the umask. */
  async function keyFile(
    name: string,
    mode: number,
    contents: Uint8Array = generateMeshKey(),
  ): Promise<string> {
    const path = join(dir, name)
    await writeFile(path, contents)
    await chmod(path, mode)
    return path
  }

  async function refusal(path: string, init = {}): Promise<KeyFilePermissionsError> {
    const err = await readMeshKeyFile(path, init).catch((e: unknown) => e)
    if (err instanceof KeyFilePermissionsError) return err
    throw new Error(`expected KeyFilePermissionsError, got ${String(err)}`)
  }

  it('reads an owner-only key file (0600, 0400), normalised like parseMeshKey', async () => {
    const key = generateMeshKey()
    for (const mode of [0o600, 0o400]) {
      const path = await keyFile(`owner-${mode.toString(8)}.key`, mode, key)
      expect(text(await readMeshKeyFile(path))).toBe(text(parseMeshKey(key)))
    }
  })

  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o610, 0o601, 0o777]) {
    const octal = `0${mode.toString(8)}`
    it(`refuses a key file with mode ${octal}, naming the file, the mode and the fix`, async () => {
      const path = await keyFile(`open-${octal}.key`, mode)
      const err = await refusal(path)
      expect(err.name).toBe('KeyFilePermissionsError')
      expect(err.code).toBe('key-file-permissions')
      expect(err.mode).toBe(mode)
      expect(err.message).toBe(
        `${path}: permissions ${octal} are too open (must not be accessible by group or others; chmod 600)`,
      )
      expect(err.message).toBe(`${path}: ${err.reason}`)
    })
  }

  it('checks the permissions before the contents', async () => {
    const path = await keyFile('open-garbage.key', 0o644, new TextEncoder().encode('hello\n'))
    expect((await refusal(path)).mode).toBe(0o644)
    await chmod(path, 0o600)
    await expect(readMeshKeyFile(path)).rejects.toBeInstanceOf(InvalidMeshKeyError)
  })

  it("takes group read directly in systemd's credentials directory (an ACL's mask there), nothing more", async () => {
    const credentials = join(dir, 'credentials')
    await mkdir(join(credentials, 'nested'), { recursive: true })
    const init = { credentialsDirectory: `${credentials}/` }
    const key = generateMeshKey()
    const credential = await keyFile('credentials/mesh.key', 0o440, key)
    expect(text(await readMeshKeyFile(credential, init))).toBe(text(parseMeshKey(key)))
    expect((await refusal(credential)).mode).toBe(0o440)
    for (const mode of [0o444, 0o460, 0o441]) {
      await chmod(credential, mode)
      expect((await refusal(credential, init)).mode).toBe(mode)
    }
    expect((await refusal(await keyFile('credentials/nested/mesh.key', 0o440), init)).mode).toBe(0o440)
    expect((await refusal(await keyFile('elsewhere.key', 0o440), init)).mode).toBe(0o440)
  })

  it('passes on a missing file as it is', async () => {
    const err = await readMeshKeyFile(join(dir, 'missing.key')).catch((e: unknown) => e)
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT')
  })
})
