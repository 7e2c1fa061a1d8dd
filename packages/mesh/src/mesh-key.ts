import { randomBytes } from 'node:crypto'
import { InvalidMeshKeyError } from './errors.ts'

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
