import { connect, type Socket } from 'node:net'

/**
 * A socket with a read buffer and awaitable reads, to speak the protocols byte by byte. Every wait
 * has a deadline: a test that expects a reply which never comes fails instead of hanging.
 */
export class RawConnection {
  readonly socket: Socket
  #buffer = Buffer.alloc(0)
  #waiters: Array<() => void> = []
  #closed = false
  readonly closedPromise: Promise<void>

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      this.#wake()
    })
    socket.on('error', () => {})
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.#closed = true
        this.#wake()
        resolve()
      })
    })
  }

  static open(target: number | string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket =
        typeof target === 'number' ? connect({ host: '127.0.0.1', port: target }) : connect({ path: target })
      socket.once('connect', () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  get buffered(): Buffer {
    return this.#buffer
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Waits until `ready(buffer)` returns how many bytes make a reply, and removes them. */
  async read(ready: (buffer: Buffer) => number | undefined, timeoutMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const n = ready(this.#buffer)
      if (n !== undefined) {
        const out = this.#buffer.subarray(0, n)
        this.#buffer = this.#buffer.subarray(n)
        return out
      }
      if (this.#closed)
        throw new Error(`connection closed; buffered: ${JSON.stringify(this.#buffer.toString('latin1'))}`)
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`timed out; buffered: ${JSON.stringify(this.#buffer.toString('latin1'))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** The next line, without its `\r\n`. */
  async line(timeoutMs?: number): Promise<string> {
    const raw = await this.read((b) => {
      const at = b.indexOf('\r\n')
      return at === -1 ? undefined : at + 2
    }, timeoutMs)
    return raw.subarray(0, raw.length - 2).toString('latin1')
  }

  /** A retrieval reply: VALUE blocks up to and including `END`, or a single error line. */
  async retrieval(timeoutMs?: number): Promise<string> {
    return (await this.read(retrievalLength, timeoutMs)).toString('latin1')
  }

  async waitClosed(timeoutMs = 2000): Promise<void> {
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => setTimeout(() => reject(new Error('connection not closed')), timeoutMs)),
    ])
  }

  /** Resolves with whatever arrived within `ms` (to check that nothing did). */
  async quiet(ms = 50): Promise<Buffer> {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return this.#buffer
  }

  close(): void {
    this.socket.destroy()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

function retrievalLength(b: Buffer): number | undefined {
  let offset = 0
  for (;;) {
    const newline = b.indexOf('\r\n', offset)
    if (newline === -1) return undefined
    const line = b.toString('latin1', offset, newline)
    const value = /^VALUE \S+ \d+ (\d+)/.exec(line)
    if (value === null) return newline + 2
    offset = newline + 2 + Number(value[1]) + 2
    if (offset > b.length) return undefined
  }
}

export const Op = {
  get: 0x00,
  set: 0x01,
  add: 0x02,
  replace: 0x03,
  delete: 0x04,
  incr: 0x05,
  decr: 0x06,
  quit: 0x07,
  flush: 0x08,
  getq: 0x09,
  noop: 0x0a,
  version: 0x0b,
  getk: 0x0c,
  getkq: 0x0d,
  append: 0x0e,
  prepend: 0x0f,
  stat: 0x10,
  setq: 0x11,
  addq: 0x12,
  replaceq: 0x13,
  deleteq: 0x14,
  incrq: 0x15,
  decrq: 0x16,
  quitq: 0x17,
  flushq: 0x18,
  appendq: 0x19,
  prependq: 0x1a,
  verbosity: 0x1b,
  touch: 0x1c,
  gat: 0x1d,
  gatq: 0x1e,
  gatk: 0x23,
  gatkq: 0x24,
} as const

export interface BinaryRequest {
  opcode: number
  key?: string | Uint8Array
  extras?: Uint8Array
  value?: string | Uint8Array
  cas?: bigint
  opaque?: number
}

export interface BinaryResponse {
  magic: number
  opcode: number
  status: number
  opaque: number
  cas: bigint
  extras: Buffer
  key: Buffer
  value: Buffer
}

const bytes = (data: string | Uint8Array | undefined): Buffer =>
  data === undefined
    ? Buffer.alloc(0)
    : typeof data === 'string'
      ? Buffer.from(data, 'latin1')
      : Buffer.from(data)

export function binaryRequest(req: BinaryRequest): Buffer {
  const key = bytes(req.key)
  const extras = bytes(req.extras)
  const value = bytes(req.value)
  const header = Buffer.alloc(24)
  header[0] = 0x80
  header[1] = req.opcode
  header.writeUInt16BE(key.length, 2)
  header[4] = extras.length
  header.writeUInt32BE(extras.length + key.length + value.length, 8)
  header.writeUInt32BE(req.opaque ?? 0xdeadbeef, 12)
  header.writeBigUInt64BE(req.cas ?? 0n, 16)
  return Buffer.concat([header, extras, key, value])
}

/** SET/ADD/REPLACE extras: flags, exptime. */
export function storeExtras(flags: number, exptime: number): Buffer {
  const extras = Buffer.alloc(8)
  extras.writeUInt32BE(flags, 0)
  extras.writeUInt32BE(exptime >>> 0, 4)
  return extras
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0, 0)
  return b
}

export function parseBinaryResponse(b: Buffer): number | undefined {
  if (b.length < 24) return undefined
  const total = 24 + b.readUInt32BE(8)
  return b.length >= total ? total : undefined
}

export async function binaryResponse(conn: RawConnection, timeoutMs?: number): Promise<BinaryResponse> {
  const raw = await conn.read(parseBinaryResponse, timeoutMs)
  const keyLength = raw.readUInt16BE(2)
  const extrasLength = raw[4]!
  return {
    magic: raw[0]!,
    opcode: raw[1]!,
    status: raw.readUInt16BE(6),
    opaque: raw.readUInt32BE(12),
    cas: raw.readBigUInt64BE(16),
    extras: raw.subarray(24, 24 + extrasLength),
    key: raw.subarray(24 + extrasLength, 24 + extrasLength + keyLength),
    value: raw.subarray(24 + extrasLength + keyLength),
  }
}
