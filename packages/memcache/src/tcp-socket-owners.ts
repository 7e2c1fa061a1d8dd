import { access, constants, type FileHandle, open } from 'node:fs/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { endianness } from 'node:os'
import { MAX_PROC_NET_TCP_BYTES } from './constants.ts'
import { SocketOwnerUnavailableError } from './errors.ts'

/**
 * Which local user opened the client end of a loopback TCP connection. Loopback TCP has no
 * SO_PEERCRED, but both ends of the connection are sockets of this host and network namespace, and
 * the kernel lists each one in /proc/net/tcp (or tcp6) with the uid that created it. The client's
 * end is the row whose local address is the client's (address, port) and whose remote address is
 * ours: a 4-tuple is unique while the connection exists, so the row cannot be someone else's.
 *
 * A row with inode 0 is not used: TIME_WAIT and orphaned sockets belong to no open file and show
 * uid 0 whoever made them. A connection whose row is not found (it closed, or a busy table changed
 * under the reader) has no owner: the caller refuses it.
 *
 * Lookups that arrive together share one scan of the tables; one scan runs at a time, and a lookup
 * that missed its row gets a second scan, since a table that changes while it is read may skip rows.
 */

/** The two ends of an accepted connection, as `socket.remoteAddress`/`localAddress` give them. */
export interface TcpConnectionEnds {
  clientAddress: string
  clientPort: number
  serverAddress: string
  serverPort: number
}

export interface TcpSocketOwnersInit {
  /** Default /proc/net/tcp and /proc/net/tcp6; a missing table (IPv6 off) counts as empty. */
  tables?: readonly string[]
  /** Bytes read from each table per scan at most. Default `MAX_PROC_NET_TCP_BYTES`. */
  maxTableBytes?: number
}

const PROC_NET_TCP = ['/proc/net/tcp', '/proc/net/tcp6']
const SCANS_PER_LOOKUP = 2
const READ_CHUNK_BYTES = 64 * 1024
const LITTLE_ENDIAN = endianness() === 'LE'

interface Lookup {
  keys: string[]
  scans: number
  /** Answered, or given up by its caller: no longer looked for. */
  settled: boolean
  settle(uid: number | undefined): void
}

export class TcpSocketOwners {
  readonly #tables: readonly string[]
  readonly #maxTableBytes: number
  readonly #chunk = Buffer.alloc(READ_CHUNK_BYTES)
  #waiting: Lookup[] = []
  #scanning = false

  constructor(init: TcpSocketOwnersInit = {}) {
    this.#tables = init.tables ?? PROC_NET_TCP
    this.#maxTableBytes = init.maxTableBytes ?? MAX_PROC_NET_TCP_BYTES
  }

  /** Start-up check: the first table can be read (it cannot on a system without /proc/net/tcp). */
  async check(): Promise<void> {
    const table = this.#tables[0] ?? PROC_NET_TCP[0]!
    try {
      await access(table, constants.R_OK)
    } catch (err) {
      throw new SocketOwnerUnavailableError(
        `allowUids: cannot read ${table} (${(err as NodeJS.ErrnoException).code}); finding the user of a TCP client needs Linux's /proc/net/tcp`,
      )
    }
  }

  /** The uid that owns the client's end, or undefined when it cannot be told (or `signal` aborts). */
  ownerOf(ends: TcpConnectionEnds, options: { signal: AbortSignal }): Promise<number | undefined> {
    const keys = rowKeys(ends)
    const { signal } = options
    if (keys.length === 0 || signal.aborted) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const onAbort = (): void => lookup.settle(undefined)
      const lookup: Lookup = {
        keys,
        scans: 0,
        settled: false,
        settle(uid) {
          if (lookup.settled) return
          lookup.settled = true
          signal.removeEventListener('abort', onAbort)
          resolve(uid)
        },
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(lookup)
      if (!this.#scanning) void this.#drain()
    })
  }

  async #drain(): Promise<void> {
    this.#scanning = true
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.filter((lookup) => !lookup.settled)
        this.#waiting = []
        const found = await this.#scan(batch).catch(() => new Map<Lookup, number>())
        for (const lookup of batch) {
          const uid = found.get(lookup)
          if (uid !== undefined || ++lookup.scans >= SCANS_PER_LOOKUP) lookup.settle(uid)
          else this.#waiting.push(lookup)
        }
      }
    } finally {
      this.#scanning = false
    }
  }

  async #scan(batch: Lookup[]): Promise<Map<Lookup, number>> {
    const wanted = new Map<string, Lookup>()
    for (const lookup of batch) for (const key of lookup.keys) wanted.set(key, lookup)
    const found = new Map<Lookup, number>()
    for (const table of this.#tables) {
      if (found.size === batch.length) break
      await this.#scanTable(table, wanted, found, batch.length)
    }
    return found
  }

  async #scanTable(
    table: string,
    wanted: Map<string, Lookup>,
    found: Map<Lookup, number>,
    lookups: number,
  ): Promise<void> {
    let handle: FileHandle
    try {
      handle = await open(table, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    try {
      let partial = ''
      let total = 0
      // Chunk by chunk: a table of many thousand sockets is parsed between reads, never in one go.
      while (found.size < lookups && total < this.#maxTableBytes) {
        const length = Math.min(READ_CHUNK_BYTES, this.#maxTableBytes - total)
        const { bytesRead } = await handle.read(this.#chunk, 0, length, null)
        if (bytesRead === 0) break
        total += bytesRead
        const text = partial + this.#chunk.toString('latin1', 0, bytesRead)
        const end = text.lastIndexOf('\n') + 1
        partial = text.slice(end)
        matchRows(text.slice(0, end), wanted, found)
      }
    } finally {
      await handle.close()
    }
  }
}

/**
 * A row is `sl: local rem st tx:rx tr:when retrnsmt uid timeout inode ...`, the two addresses one
 * space apart. Only the key is cut out of each row; a row is split into fields only when it is wanted.
 */
function matchRows(text: string, wanted: Map<string, Lookup>, found: Map<Lookup, number>): void {
  let start = 0
  while (start < text.length) {
    const newline = text.indexOf('\n', start)
    const end = newline === -1 ? text.length : newline
    const local = text.indexOf(': ', start) + 2
    const remote = local > 1 && local < end ? text.indexOf(' ', local) + 1 : 0
    const keyEnd = remote > 0 ? text.indexOf(' ', remote) : -1
    const lookup = keyEnd !== -1 && keyEnd < end ? wanted.get(text.slice(local, keyEnd)) : undefined
    if (lookup !== undefined) {
      const uid = rowOwner(text.slice(start, end))
      if (uid !== undefined) found.set(lookup, uid)
    }
    start = end + 1
  }
}

/** The uid of a row, unless its inode is 0: no open file holds the socket, and its uid reads 0. */
function rowOwner(row: string): number | undefined {
  const fields = row.trim().split(/\s+/)
  if (fields.length < 10 || fields[9] === '0' || !/^\d+$/.test(fields[7] ?? '')) return undefined
  const uid = Number(fields[7])
  return Number.isSafeInteger(uid) ? uid : undefined
}

/**
 * The `local rem` column pair of the client's row. An IPv4 connection is listed in tcp, or in tcp6
 * with IPv4-mapped addresses when the client used a dual-stack IPv6 socket: both keys are looked for.
 */
export function rowKeys(ends: TcpConnectionEnds): string[] {
  const client = addressBytes(ends.clientAddress)
  const server = addressBytes(ends.serverAddress)
  if (client === undefined || server === undefined || client.length !== server.length) return []
  if (!validPort(ends.clientPort) || !validPort(ends.serverPort)) return []
  const key = (c: Buffer, s: Buffer): string =>
    `${procAddress(c, ends.clientPort)} ${procAddress(s, ends.serverPort)}`
  if (client.length === 16) return [key(client, server)]
  return [key(client, server), key(mapped(client), mapped(server))]
}

/** The kernel prints each 32-bit word of the address as the CPU holds it (`%08X`), then `:%04X` the port. */
export function procAddress(bytes: Buffer, port: number): string {
  let hex = ''
  for (let i = 0; i < bytes.length; i += 4) {
    const word = LITTLE_ENDIAN ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i)
    hex += word.toString(16).toUpperCase().padStart(8, '0')
  }
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 65535
}

function mapped(ipv4: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), ipv4])
}

/** 4 bytes for IPv4 (and IPv4-mapped IPv6, which the server reports for a dual-stack listener), else 16. */
function addressBytes(address: string): Buffer | undefined {
  const ipv4InV6 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  const ipv4 = ipv4InV6?.[1] ?? address
  if (isIPv4(ipv4)) return Buffer.from(ipv4.split('.').map(Number))
  const ipv6 = address.replace(/%.*$/, '')
  if (!isIPv6(ipv6)) return undefined
  return ipv6Bytes(ipv6)
}

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16)
  const [head = '', tail] = address.split('::')
  const groups = (part: string): number[] => {
    if (part.length === 0) return []
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [Number.parseInt(group, 16)]
      const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
      return [(a << 8) | b, (c << 8) | d]
    })
  }
  const front = groups(head)
  const back = tail === undefined ? [] : groups(tail)
  for (const [i, group] of front.entries()) out.writeUInt16BE(group, i * 2)
  for (const [i, group] of back.entries()) out.writeUInt16BE(group, 16 - (back.length - i) * 2)
  return out
}
