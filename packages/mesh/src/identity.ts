import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidIdentityError } from './errors.ts'
import { type KeyFileInit, readKeyFile } from './mesh-key.ts'

/**
 * Loads the node's persistent identity (a libp2p Ed25519 private key in its protobuf form), or
 * creates it with owner-only permissions if the file does not exist, so the peer id survives restarts
 * and seeds can be written as /ip4/.../p2p/<id>. An existing file that group or others may access is
 * refused (KeyFilePermissionsError), like the mesh key.
 */
export async function loadOrCreateIdentity(path: string, init: KeyFileInit = {}): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readKeyFile(path, init)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new InvalidIdentityError(
        `identity file ${path}: not a libp2p private key (${(err as Error).message})`,
      )
    }
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  // 'wx': never overwrite an identity another process created meanwhile. 0600 whatever the umask:
  // a umask only takes bits away.
  const handle = await open(path, 'wx', 0o600)
  try {
    await handle.writeFile(privateKeyToProtobuf(key))
  } finally {
    await handle.close()
  }
  return key
}
