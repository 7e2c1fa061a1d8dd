import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { UnknownUserError, UserLookupFailedError } from '../src/errors.ts'
import { isValidUserName, resolveUserIds, type UserIdSources } from '../src/local-users.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function failure(names: string[], sources?: UserIdSources): Promise<Error | undefined> {
  return resolveUserIds(names, sources).then(
    () => undefined,
    (err: Error) => err,
  )
}

describe('resolveUserIds', () => {
  it('resolves through getent', async () => {
    expect(await resolveUserIds(['root', 'root'])).toEqual(new Map([['root', 0]]))
  })

  it('an unknown user is an UnknownUserError naming it', async () => {
    const err = await failure(['root', 'no-such-user-tlsmesh'])
    expect(err?.name).toBe(UnknownUserError.name)
    expect((err as UnknownUserError).user).toBe('no-such-user-tlsmesh')
    expect(err?.message).toBe('no user "no-such-user-tlsmesh" on this system')
  })

  it('without getent, reads the passwd file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-passwd-'))
    dirs.push(dir)
    const passwdFile = join(dir, 'passwd')
    writeFileSync(
      passwdFile,
      'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n',
    )
    const sources = { getent: join(dir, 'no-getent'), passwdFile }
    expect(await resolveUserIds(['www-data'], sources)).toEqual(new Map([['www-data', 33]]))
    // A prefix of a name is not the name.
    expect((await failure(['www'], sources))?.name).toBe(UnknownUserError.name)
  })

  it('a getent that fails otherwise is a UserLookupFailedError, not an unknown user', async () => {
    const err = await failure(['root'], { getent: 'false' })
    expect(err?.name).toBe(UserLookupFailedError.name)
  })

  it('refuses what is not a user name before asking anyone', async () => {
    for (const name of ['', '-s', '1000', 'a:b', 'a b', 'a\nroot', 'x'.repeat(257)]) {
      expect(isValidUserName(name), name).toBe(false)
      expect((await failure([name], { getent: 'false' }))?.name, name).toBe(UnknownUserError.name)
    }
    for (const name of ['www-data', '_apt', 'h2o', 'svc.web@corp', 'machine$']) {
      expect(isValidUserName(name), name).toBe(true)
    }
  })
})
