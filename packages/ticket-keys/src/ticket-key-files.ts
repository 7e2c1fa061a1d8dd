import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { HAPROXY_KEY_FILE, HAPROXY_MIN_KEYS } from './constants.ts'
import { InvalidTicketKeyOptionError } from './errors.ts'
import { haproxyTicketKeyLine, nginxTicketKeyFile, type TicketKey } from './ticket-key.ts'

/*
 * The only place ticket keys touch a disk: the directory the operator names for nginx or HAProxy.
 * Put it on tmpfs (with no swap), owned by the user tlsmeshd runs as, mode 0700: the servers read the
 * files at (re)load as root. Every file is written to a temporary name (mode 0600), fsynced and
 * renamed over the old one, so a reload never reads half a key.
 */

export const TICKET_KEY_FILE_FORMATS = ['nginx', 'haproxy'] as const
export type TicketKeyFileFormat = (typeof TICKET_KEY_FILE_FORMATS)[number]

export type WriteTicketKeyFilesOptions =
  | {
      format: 'nginx'
      /**
       * How many files (`ssl_session_ticket_key` lines) the nginx configuration names: always that
       * many are written, since nginx refuses to (re)load with a missing one. Use the schedule's
       * `maxKeys`. Spare slots repeat the current key (harmless: nginx looks keys up by name, first
       * match); keys beyond the slots are left out, the superseded ones first.
       */
      slots: number
    }
  | { format: 'haproxy' }

export interface WrittenTicketKeyFiles {
  /** Paths written, in slot order (nginx) or the one file (HAProxy). */
  files: string[]
  /** Stale files of ours removed: slots beyond `slots`, the other format's files, leftover temp files. */
  removed: string[]
  /** Keys that did not fit in the slots. */
  dropped: number
}

const NGINX_SLOT = /^(current|next|previous-\d+)\.key$/
const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/

/** Whether `name` is a key file being written: a hidden temporary file, renamed over its slot when done. */
export function isKeyFileInWriting(name: string): boolean {
  return TEMP_FILE.test(name)
}

/** nginx slot file names: `current.key` encrypts, `next.key`, `previous-1.key`, ... only decrypt. */
export function nginxSlotNames(slots: number): string[] {
  const names = ['current.key', 'next.key']
  for (let i = 1; i <= slots - 2; i++) names.push(`previous-${i}.key`)
  return names.slice(0, slots)
}

/** The `ssl_session_ticket_key` lines naming every slot, for the nginx `http` or `server` block. */
export function nginxTicketKeyDirectives(dir: string, slots: number): string {
  return nginxSlotNames(slots)
    .map((name) => `ssl_session_ticket_key ${join(dir, name)};`)
    .join('\n')
}

/**
 * Writes `keys` (`keys[0]` encrypts; as `TicketKeySchedule.keys()` returns them) for nginx or
 * HAProxy into `dir`, atomically, files 0600, and removes stale files of ours.
 *
 * - nginx: one raw 80-byte file per slot; the first `ssl_session_ticket_key` encrypts, every other
 *   one only decrypts.
 * - HAProxy: one file, one base64 key per line. HAProxy keeps the last `TLS_TICKETS_NO` lines (3 in
 *   its default build) and encrypts with the penultimate one (ssl_sock.c: "Use penultimate key for
 *   encryption"), so the lines run oldest first and end with the current key and then the next one,
 *   the current key standing in for a next key not yet held. With 3 keys HAProxy decrypts only one
 *   previous period; keys superseded in a race come before every other line, so that the previous
 *   period's key is that one.
 */
export async function writeTicketKeyFiles(
  dir: string,
  keys: readonly TicketKey[],
  options: WriteTicketKeyFilesOptions,
): Promise<WrittenTicketKeyFiles> {
  const current = keys[0]
  if (current === undefined)
    throw new InvalidTicketKeyOptionError('keys: at least the current key is required')
  const next = keys.find((key) => key.period === current.period + 1)
  const rest = keys.slice(1).filter((key) => key !== next)
  await mkdir(dir, { recursive: true, mode: 0o700 })

  const files: string[] = []
  let dropped = 0
  if (options.format === 'nginx') {
    const { slots } = options
    if (!Number.isSafeInteger(slots) || slots < 2) {
      throw new InvalidTicketKeyOptionError(`slots: expected an integer >= 2, got ${slots}`)
    }
    const ordered = [current, next ?? current, ...rest]
    dropped = Math.max(0, ordered.length - slots)
    const names = nginxSlotNames(slots)
    for (const [i, name] of names.entries()) {
      await writeAtomically(dir, name, nginxTicketKeyFile(ordered[i] ?? current))
      files.push(join(dir, name))
    }
  } else {
    // HAProxy keeps one decrypt-only line: it must be the previous period's key (every ticket of the
    // last period). Keys superseded in a race (after the older ones in `keys`, perhaps of a later
    // period) go first, or one of them would push that key out of the window.
    const older: TicketKey[] = []
    const superseded: TicketKey[] = []
    const periods = new Set<number>()
    for (const key of rest) {
      if (key.period < current.period && !periods.has(key.period)) {
        periods.add(key.period)
        older.push(key)
      } else {
        superseded.push(key)
      }
    }
    older.sort((a, b) => a.period - b.period)
    const lines = [...superseded, ...older, current, next ?? current].map(haproxyTicketKeyLine)
    while (lines.length < HAPROXY_MIN_KEYS) lines.unshift(lines[0]!)
    await writeAtomically(dir, HAPROXY_KEY_FILE, `${lines.join('\n')}\n`)
    files.push(join(dir, HAPROXY_KEY_FILE))
  }
  await syncDirectory(dir)
  const removed = await removeStale(dir, new Set(files))
  return { files, removed, dropped }
}

async function writeAtomically(dir: string, name: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dir, `.${name}.${randomBytes(8).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, join(dir, name))
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/** The renames are durable once the directory is synced (ext4 and tmpfs accept fsync on a directory). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function removeStale(dir: string, written: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = []
  for (const name of await readdir(dir)) {
    const path = join(dir, name)
    if (written.has(path)) continue
    if (!NGINX_SLOT.test(name) && name !== HAPROXY_KEY_FILE && !isKeyFileInWriting(name)) continue
    await rm(path, { force: true })
    removed.push(path)
  }
  return removed
}
