import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { UnknownUserError, UserLookupFailedError } from './errors.ts'

/**
 * Local user names to uids, once at start-up, for `allowUids`. getent asks NSS (so LDAP or sssd
 * users resolve as they do for login); where getent is missing, /etc/passwd is read.
 */

export interface UserIdSources {
  /** Default `getent` (from PATH). */
  getent?: string
  /** Read when getent is missing. Default `/etc/passwd`. */
  passwdFile?: string
  signal?: AbortSignal
}

/** A slow NSS backend (LDAP) must not hang the start-up. */
const GETENT_TIMEOUT_MS = 10_000

/**
 * Names as useradd and NSS backends make them. Never all digits: getent would take those as a uid.
 * Never a leading `-`: getent would take it as an option.
 */
export function isValidUserName(name: string): boolean {
  return name.length <= 256 && /^[A-Za-z0-9_.][A-Za-z0-9_.@-]*\$?$/.test(name) && !/^\d+$/.test(name)
}

/** Each name's uid; throws UnknownUserError naming the first name that is not a user here. */
export async function resolveUserIds(
  names: readonly string[],
  sources: UserIdSources = {},
): Promise<Map<string, number>> {
  const uids = new Map<string, number>()
  for (const name of new Set(names)) {
    if (!isValidUserName(name)) throw new UnknownUserError(name, `"${name}" is not a valid user name`)
    const fromGetent = await getentPasswd(name, sources)
    const entry = fromGetent === undefined ? await passwdFileEntry(name, sources) : fromGetent
    const uid = uidOf(entry, name)
    if (uid === undefined) throw new UnknownUserError(name, `no user "${name}" on this system`)
    uids.set(name, uid)
  }
  return uids
}

/** The passwd line of `name`, `undefined` when getent is missing, `null` when it does not know it. */
function getentPasswd(name: string, sources: UserIdSources): Promise<string | null | undefined> {
  const command = sources.getent ?? 'getent'
  return new Promise((resolve, reject) => {
    const options = { timeout: GETENT_TIMEOUT_MS, ...(sources.signal ? { signal: sources.signal } : {}) }
    execFile(command, ['passwd', name], options, (err, stdout) => {
      if (err === null) return resolve(stdout.split('\n')[0] ?? '')
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return resolve(undefined)
      // getent's exit status 2: the key was not found in the database.
      if ((err as { code?: unknown }).code === 2) return resolve(null)
      reject(new UserLookupFailedError(`getent passwd ${name} failed (${String(code ?? err.message)})`))
    })
  })
}

async function passwdFileEntry(name: string, sources: UserIdSources): Promise<string | undefined> {
  const text = await readFile(sources.passwdFile ?? '/etc/passwd', 'utf8')
  return text.split('\n').find((line) => line.startsWith(`${name}:`))
}

/** `name:password:uid:gid:gecos:home:shell`, checked to be the entry of `name`. */
function uidOf(entry: string | null | undefined, name: string): number | undefined {
  const fields = entry?.split(':') ?? []
  if (fields[0] !== name || fields[2] === undefined || !/^\d+$/.test(fields[2])) return undefined
  const uid = Number(fields[2])
  return Number.isSafeInteger(uid) ? uid : undefined
}
