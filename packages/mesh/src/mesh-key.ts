import { randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { InvalidMeshKeyError, KeyFilePermissionsError } from './errors.ts'

const HEADER = '/key/swarm/psk/1.0.0/'
const KEY_BYTES = 32

/**
 * The mesh key is a libp2p private-network pre-shared key, in the file format go-libp2p and
 * js-libp2p share (three lines: header, encoding, 64 hex digits), so `ipfs`-style tools can read it.
 */
export function generateMeshKey(): Uint8Array {
  return new TextEncoder().encode(`${HEADER}\n/base16/\n${randomBytes(KEY_BYTES).toString('hex')}\n`)
}

/** Checks a mesh key file's contents and returns them normalised (pnet parses the same bytes). */
export function parseMeshKey(contents: Uint8Array | string): Uint8Array {
  const text = typeof contents === 'string' ? contents : new TextDecoder().decode(contents)
  const lines = text.trim().split(/\r?\n/)
  if (lines.length !== 3 || lines[0] !== HEADER || lines[1] !== '/base16/') {
    throw new InvalidMeshKeyError(
      `mesh key: expected three lines "${HEADER}", "/base16/" and ${KEY_BYTES * 2} hex digits (make one with "tlsmesh keygen --out FILE")`,
    )
  }
  const hex = lines[2] ?? ''
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== KEY_BYTES * 2) {
    throw new InvalidMeshKeyError(`mesh key: the third line must be ${KEY_BYTES * 2} hex digits`)
  }
  return new TextEncoder().encode(`${HEADER}\n/base16/\n${hex.toLowerCase()}`)
}

/** Access a key file must not give: any bit of group or others, as ssh requires of a private key. */
const FOREIGN_ACCESS = 0o077
/**
 * Group read on a file directly in systemd's $CREDENTIALS_DIRECTORY: systemd lets the service's user
 * read a credential through an ACL entry where the file system has ACLs, and stat shows the ACL's
 * mask in the group bits (0440) although no group may read the file.
 */
const CREDENTIAL_ACL_MASK = 0o040

export interface KeyFileInit {
  /** systemd's $CREDENTIALS_DIRECTORY (`LoadCredential=`), where group read means an ACL's mask. */
  credentialsDirectory?: string
}

/**
 * Reads a key file, refusing it with KeyFilePermissionsError when group or others may access it:
 * a key others can read is a key others may have copied. The mode checked is the open file's, so a
 * file swapped in between cannot pass the check for another.
 */
export async function readKeyFile(path: string, init: KeyFileInit = {}): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const mode = (await handle.stat()).mode & 0o7777
    const tolerated =
      init.credentialsDirectory !== undefined && dirname(resolve(path)) === resolve(init.credentialsDirectory)
        ? CREDENTIAL_ACL_MASK
        : 0
    if ((mode & FOREIGN_ACCESS & ~tolerated) !== 0) throw new KeyFilePermissionsError(path, mode)
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/** Reads and checks a mesh key file: owner-only (see `readKeyFile`), in the format `parseMeshKey` takes. */
export async function readMeshKeyFile(path: string, init: KeyFileInit = {}): Promise<Uint8Array> {
  return parseMeshKey(await readKeyFile(path, init))
}
