import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidIdentityError, KeyFilePermissionsError } from '../src/errors.ts'
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
      await writeFile(path, contents, { mode: 0o600 })
      const err = await loadOrCreateIdentity(path).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidIdentityError)
      expect((err as InvalidIdentityError).message).toContain(path)
      expect(await readFile(path)).toEqual(contents)
    })
  }

  it('creates the file 0600 and its directories 0700 even under a permissive umask', async () => {
    const before = process.umask(0)
    try {
      const path = join(dir, 'open-umask', 'identity.key')
      await loadOrCreateIdentity(path)
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      expect((await stat(join(dir, 'open-umask'))).mode & 0o777).toBe(0o700)
    } finally {
      process.umask(before)
    }
  })

  it('refuses an identity file that group or others may access, and leaves it alone', async () => {
    const path = join(dir, 'shared.key')
    await loadOrCreateIdentity(path)
    const before = await readFile(path)
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(path, mode)
      const err = await loadOrCreateIdentity(path).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(KeyFilePermissionsError)
      expect(err).toMatchObject({ path, mode })
      expect((err as Error).message).toBe(
        `${path}: permissions 0${mode.toString(8)} are too open (must not be accessible by group or others; chmod 600)`,
      )
      expect(await readFile(path)).toEqual(before)
    }
  })

  it('passes on errors other than a missing file', async () => {
    // A directory where the file should be: EISDIR, not a silently created identity.
    const err = await loadOrCreateIdentity(dir).catch((e: unknown) => e)
    expect((err as NodeJS.ErrnoException).code).toBe('EISDIR')
  })
})
