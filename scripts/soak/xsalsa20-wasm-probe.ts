// Looks into the WebAssembly memory of the `xsalsa20` package that `@libp2p/pnet` 3.0.27 loads (the
// same CommonJS module instance: resolved from pnet's own directory).
import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

interface WasmCipher {
  _xor: { _pointer?: number; _memory?: Uint8Array }
}
type XSalsa20 = (nonce: Uint8Array, key: Uint8Array) => WasmCipher

export interface WasmMemorySample {
  /** Size of the module-wide memory, in 64 KiB pages (starts at 10, limit 1000). */
  pages: number
  /** 64-byte cipher slots ever handed out and not returned (pnet never returns any). */
  slots: number
}

const SLOT_BASE = 144
const SLOT_BYTES = 64
const PAGE_BYTES = 65536

/**
 * Each probe allocates one cipher and does not finalize it, so that its pointer is the first free
 * slot past every leaked one (a finalized slot would be handed out again): one 64-byte slot per probe.
 */
export function createXsalsa20Probe(root: string): () => WasmMemorySample {
  const pnetDir = realpathSync(join(root, 'node_modules/@libp2p/pnet'))
  const xsalsa20 = createRequire(join(pnetDir, 'package.json'))('xsalsa20') as XSalsa20
  return () => {
    const cipher = xsalsa20(new Uint8Array(24), new Uint8Array(32))
    const pointer = cipher._xor._pointer ?? Number.NaN
    const bytes = cipher._xor._memory?.buffer.byteLength ?? Number.NaN
    return { pages: bytes / PAGE_BYTES, slots: (pointer - SLOT_BASE) / SLOT_BYTES }
  }
}
