import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidIdentityError } from '../src/errors.ts'
import { loadOrCreateIdentity } from '../src/identity.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlsmesh-identity-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadOrCreateIdentity', () => {
  it('creates an owner-only key file, in missing directories, and loads the same peer id next time', async () => {
    const path = join(dir, 'new', 'nested', 'identity.key')
    const created = await loadOrCreateIdentity(path)
    expect(created.type).toBe('Ed25519')
    expect((await stat(path)).mode & 0o777).toBe(0o600)

    const before = await readFile(path)
    const loaded = await loadOrCreateIdentity(path)
    expect(peerIdFromPrivateKey(loaded).toString()).toBe(peerIdFromPrivateKey(created).toString())
    expect(await readFile(path)).toEqual(before)
  })

  it('gives two files two identities', async () => {
    const a = await loadOrCreateIdentity(join(dir, 'a.key'))
    const b = await loadOrCreateIdentity(join(dir, 'b.key'))
    expect(peerIdFromPrivateKey(a).equals(peerIdFromPrivateKey(b))).toBe(false)
  })

  for (const [name, contents] of [
    ['garbage', Buffer.from('not a key at all\n')],
    ['an empty file', Buffer.alloc(0)],
  ] as const) {
    it(`refuses ${name} with InvalidIdentityError naming the file, and leaves it alone`, async () => {
      const path = join(dir, `${name.replaceAll(' ', '-')}.key`)
      await writeFile(path, contents)
      const err = await loadOrCreateIdentity(path).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidIdentityError)
      expect((err as InvalidIdentityError).message).toContain(path)
      expect(await readFile(path)).toEqual(contents)
    })
  }

  it('passes on errors other than a missing file', async () => {
    // A directory where the file should be: EISDIR, not a silently created identity.
    const err = await loadOrCreateIdentity(dir).catch((e: unknown) => e)
    expect((err as NodeJS.ErrnoException).code).toBe('EISDIR')
  })
})
