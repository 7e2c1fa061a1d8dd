import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CONFIG_FIELDS, type FieldName, type Origin } from './config-fields.ts'
import { type DaemonOptions, formatHostPort, InvalidOptionError } from './daemon-options.ts'

/** Where the settings came from, and where systemd put credentials. */
export interface SettingContext {
  origins: Partial<Record<FieldName, Origin>>
  configFile?: string | undefined
  /** systemd's $CREDENTIALS_DIRECTORY: a key file there may read 0440 (see packages/mesh). */
  credentialsDirectory?: string | undefined
}

/**
 * A setting and its value as the operator wrote it, to start a one-line refusal:
 * `--admin 127.0.0.1:7646`, `TLSMESH_MESH_KEY_FILE=/etc/tlsmesh/mesh.key`,
 * `mesh-key-file /etc/tlsmesh/mesh.key (in /etc/tlsmesh/tlsmeshd.yaml)`. A default is named by its flag.
 */
export function settingLabel(name: FieldName, value: string, context: SettingContext): string {
  const field = CONFIG_FIELDS[name]
  switch (context.origins[name]) {
    case 'env':
      return `${field.env}=${value}`
    case 'file':
      return `${field.key} ${value} (in ${context.configFile})`
    default:
      return `--${field.flag} ${value}`
  }
}

/** A system call's failure in the words of the operator's fix, not the C library's. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
  EROFS: 'read-only file system',
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'address not available on this host',
}

function errnoWords(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return undefined
  return ERRNO_WORDS[code] ?? code
}

/** A directory the daemon will create (`mkdir -p`): the nearest one that exists must let it. */
async function checkCreatable(path: string): Promise<string | undefined> {
  let dir = dirname(path)
  for (;;) {
    try {
      const info = await stat(dir)
      if (!info.isDirectory()) return `cannot be created: ${dir} is not a directory`
      await access(dir, constants.W_OK | constants.X_OK)
      return undefined
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && dir !== dirname(dir)) {
        dir = dirname(dir)
        continue
      }
      return `cannot be created in ${dir}: ${errnoWords(err) ?? (err as Error).message}`
    }
  }
}

/** A directory the daemon writes into, or creates: it must be one and be writable, or be creatable. */
async function checkWritableDir(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path)
    if (!info.isDirectory()) return 'not a directory'
    await access(path, constants.W_OK | constants.X_OK)
    return undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return checkCreatable(path)
    return errnoWords(err) ?? (err as Error).message
  }
}

function refuse(name: FieldName, value: string, context: SettingContext, problem: string): never {
  throw new InvalidOptionError(`${settingLabel(name, value, context)}: ${problem}`)
}

/**
 * What `--check-config` checks beyond the values, and what start-up checks before it binds anything:
 * the key files open and hold keys (with owner-only permissions), the identity file opens or can be
 * created, the directories the daemon writes to can be written, the allowed memcache users exist.
 * Binds nothing and writes nothing. Throws an InvalidOptionError naming the setting and its value.
 */
export async function checkNamedFiles(options: DaemonOptions, context: SettingContext): Promise<void> {
  const keyInit =
    context.credentialsDirectory !== undefined ? { credentialsDirectory: context.credentialsDirectory } : {}
  const keyFile = async (name: 'meshKeyFile' | 'identityFile', path: string): Promise<void> => {
    // Loaded only here: the mesh package brings libp2p, a second `--help` and `--version` do without.
    const mesh = await import('@tlsmesh/mesh')
    try {
      if (name === 'meshKeyFile') await mesh.readMeshKeyFile(path, keyInit)
      else if ((await stat(path).catch(() => undefined)) === undefined) {
        const problem = await checkCreatable(path)
        if (problem !== undefined) refuse(name, path, context, `no such file, and it ${problem}`)
      } else await mesh.loadOrCreateIdentity(path, keyInit)
    } catch (err) {
      if (err instanceof InvalidOptionError) throw err
      const e = err as Error & { reason?: string }
      if (e.name === 'KeyFilePermissionsError' && e.reason !== undefined)
        refuse(name, path, context, e.reason)
      const words = errnoWords(err)
      if (words !== undefined) refuse(name, path, context, words)
      // InvalidMeshKeyError, InvalidIdentityError: say what is in the file, not where it is again.
      refuse(name, path, context, e.message.replace(/^(mesh key|identity file \S+): /, ''))
    }
  }
  if (options.meshKeyFile !== undefined) await keyFile('meshKeyFile', options.meshKeyFile)
  if (options.identityFile !== undefined) await keyFile('identityFile', options.identityFile)

  const ticketDir = options.ticketKeys?.files?.dir
  if (ticketDir !== undefined) {
    const problem = await checkWritableDir(ticketDir)
    if (problem !== undefined) refuse('ticketKeysDir', ticketDir, context, problem)
  }
  const socketPath = options.memcache?.socketPath
  if (socketPath !== undefined) {
    const problem = await checkWritableDir(dirname(socketPath))
    if (problem !== undefined) refuse('memcacheSocket', socketPath, context, `its directory: ${problem}`)
  }
  const users = options.memcache?.allowUsers
  if (users !== undefined) {
    const { resolveUserIds } = await import('@tlsmesh/memcache')
    try {
      await resolveUserIds(users)
    } catch (err) {
      if ((err as Error).name !== 'UnknownUserError') throw err
      refuse('memcacheAllowUsers', users.join(','), context, (err as Error).message)
    }
  }
}

/**
 * A failure to start turned into a refusal of the setting behind it, or undefined when it is not
 * one: a port in use names `--admin`, `--memcache` or `--listen` and the address, in one line,
 * instead of libp2p's advice about `transportManager.faultTolerance` and a stack trace.
 */
export function settingOfStartupError(
  err: unknown,
  options: DaemonOptions,
  context: SettingContext,
): InvalidOptionError | undefined {
  if (err instanceof InvalidOptionError) return err
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
  const setting = (name: FieldName, value: string, problem: string): InvalidOptionError =>
    new InvalidOptionError(`${settingLabel(name, value, context)}: ${problem}`)

  if (e?.name === 'UnsupportedListenAddressesError') {
    // libp2p says which addresses failed only in its message: "\n  /ip4/.../tcp/N: Error: listen EADDRINUSE ..."
    const failed = /^\s+(\/\S+): (.*)$/m.exec(e.message)
    if (failed === null) return undefined
    const [, addr, reason] = failed as unknown as [string, string, string]
    const given = options.listen.find((value) => value === addr || addr.startsWith(value)) ?? addr
    const code = /\b(E[A-Z]{3,})\b/.exec(reason)?.[1]
    const problem =
      code !== undefined
        ? (ERRNO_WORDS[code] ?? code)
        : 'cannot listen there (a TCP multiaddr such as /ip4/0.0.0.0/tcp/7645)'
    return setting('listen', given, problem)
  }
  if (e?.name === 'SocketPathInUseError' && options.memcache?.socketPath !== undefined) {
    const path = options.memcache.socketPath
    return setting('memcacheSocket', path, e.message.replace(`socketPath: ${path} `, ''))
  }
  if (e?.syscall === 'listen' || e?.syscall === 'bind') {
    const words = errnoWords(e)
    if (words === undefined) return undefined
    const tcp = options.memcache?.tcp
    if (tcp !== undefined && e.port === tcp.port && !isAdmin(e, options)) {
      return setting('memcache', formatHostPort(tcp), words)
    }
    if (isAdmin(e, options)) return setting('admin', formatHostPort(options.admin), words)
    if (options.memcache?.socketPath !== undefined && e.address === options.memcache.socketPath) {
      return setting('memcacheSocket', options.memcache.socketPath, words)
    }
  }
  return undefined
}

function isAdmin(e: { port?: number }, options: DaemonOptions): boolean {
  return e.port === options.admin.port && options.admin.port !== 0
}
