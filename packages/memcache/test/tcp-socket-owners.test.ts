import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { endianness, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SocketOwnerUnavailableError } from '../src/errors.ts'
import { rowKeys, type TcpConnectionEnds, TcpSocketOwners } from '../src/tcp-socket-owners.ts'

// The hex literals below are as a little-endian kernel prints them (x86, arm64).
const isLittleEndian = endianness() === 'LE'

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'

/** A /proc/net/tcp row as the kernel prints it. */
function row(local: string, remote: string, uid: number, inode: number, state = '01'): string {
  return `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`
}

const SERVER = '0100007F:2BCB' // 127.0.0.1:11211
const CLIENT = '0100007F:D431' // 127.0.0.1:54321
const ENDS: TcpConnectionEnds = {
  clientAddress: '127.0.0.1',
  clientPort: 54321,
  serverAddress: '127.0.0.1',
  serverPort: 11211,
}
const MAPPED = '0000000000000000FFFF0000'
const signal = new AbortController().signal

const dirs: string[] = []
const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tables(tcp: string, tcp6?: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tlsmesh-proc-net-'))
  dirs.push(dir)
  writeFileSync(join(dir, 'tcp'), HEADER + tcp)
  if (tcp6 !== undefined) writeFileSync(join(dir, 'tcp6'), HEADER + tcp6)
  // A missing tcp6 (IPv6 off) reads as an empty table.
  return [join(dir, 'tcp'), join(dir, 'tcp6')]
}

describe.runIf(isLittleEndian)('rowKeys', () => {
  it('IPv4: the client row in tcp, or in tcp6 with IPv4-mapped addresses', () => {
    expect(rowKeys(ENDS)).toEqual([`${CLIENT} ${SERVER}`, `${MAPPED}${CLIENT} ${MAPPED}${SERVER}`])
    // What a dual-stack listener reports for the same connection.
    expect(
      rowKeys({ ...ENDS, clientAddress: '::ffff:127.0.0.1', serverAddress: '::FFFF:127.0.0.1' }),
    ).toEqual(rowKeys(ENDS))
  })

  it('IPv6 ::1', () => {
    const ipv6 = { ...ENDS, clientAddress: '::1', serverAddress: '0:0:0:0:0:0:0:1' }
    expect(rowKeys(ipv6)).toEqual([
      '00000000000000000000000001000000:D431 00000000000000000000000001000000:2BCB',
    ])
  })

  it('nothing to look for when an end is unknown (a socket closed before it was accepted)', () => {
    expect(rowKeys({ ...ENDS, clientAddress: '' })).toEqual([])
    expect(rowKeys({ ...ENDS, clientPort: 0 })).toEqual([])
    expect(rowKeys({ ...ENDS, serverAddress: '::1' })).toEqual([])
  })
})

describe.runIf(isLittleEndian)('TcpSocketOwners over a table', () => {
  it("takes the client's row, not the server's own row of the same connection", async () => {
    const owners = new TcpSocketOwners({
      tables: tables(row(SERVER, CLIENT, 33, 900) + row(CLIENT, SERVER, 1000, 901)),
    })
    expect(await owners.ownerOf(ENDS, { signal })).toBe(1000)
  })

  it('finds a dual-stack client in tcp6', async () => {
    const owners = new TcpSocketOwners({
      tables: tables(
        row(SERVER, '0100007F:0050', 0, 5),
        row(`${MAPPED}${CLIENT}`, `${MAPPED}${SERVER}`, 42, 7),
      ),
    })
    expect(await owners.ownerOf(ENDS, { signal })).toBe(42)
  })

  it('a row without an inode (TIME_WAIT, orphaned: printed as uid 0) owns nothing', async () => {
    const owners = new TcpSocketOwners({ tables: tables(row(CLIENT, SERVER, 0, 0, '06')) })
    expect(await owners.ownerOf(ENDS, { signal })).toBeUndefined()
  })

  it('a connection not listed has no owner; so does one with the ports the other way round', async () => {
    const owners = new TcpSocketOwners({ tables: tables(row(SERVER, CLIENT, 0, 12)) })
    expect(await owners.ownerOf(ENDS, { signal })).toBeUndefined()
  })

  it('reads rows across chunk boundaries, and answers lookups made together', async () => {
    // 1,000 other rows (about 150 KiB, several read chunks) around the 50 wanted ones.
    let text = ''
    for (let i = 0; i < 1000; i++)
      text += row(`0100007F:${(1000 + i).toString(16).toUpperCase()}`, SERVER, 7, i + 1)
    for (let i = 0; i < 50; i++) {
      text += row(`0100007F:${(40000 + i).toString(16).toUpperCase()}`, SERVER, 2000 + i, 5000 + i)
    }
    const owners = new TcpSocketOwners({ tables: tables(text) })
    const uids = await Promise.all(
      Array.from({ length: 50 }, (_, i) => owners.ownerOf({ ...ENDS, clientPort: 40000 + i }, { signal })),
    )
    expect(uids).toEqual(Array.from({ length: 50 }, (_, i) => 2000 + i))
  })

  it('reads a table up to maxTableBytes only: a row beyond it is not found', async () => {
    const filler = row('0100007F:0001', SERVER, 7, 1).repeat(100)
    const path = tables(filler + row(CLIENT, SERVER, 1000, 901))
    expect(await new TcpSocketOwners({ tables: path }).ownerOf(ENDS, { signal })).toBe(1000)
    const bounded = new TcpSocketOwners({ tables: path, maxTableBytes: filler.length / 2 })
    expect(await bounded.ownerOf(ENDS, { signal })).toBeUndefined()
  })

  it('an aborted lookup answers undefined', async () => {
    const owners = new TcpSocketOwners({ tables: tables(row(CLIENT, SERVER, 1000, 901)) })
    expect(await owners.ownerOf(ENDS, { signal: AbortSignal.abort() })).toBeUndefined()
  })

  it('check() refuses a system without the table', async () => {
    const owners = new TcpSocketOwners({ tables: ['/nonexistent/proc/net/tcp'] })
    const err = await owners.check().then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.name).toBe(SocketOwnerUnavailableError.name)
    expect(err?.message).toContain('/nonexistent/proc/net/tcp')
  })
})

describe.runIf(process.platform === 'linux')('TcpSocketOwners on this host', () => {
  async function acceptOne(host: string, connectTo: string): Promise<Socket> {
    const server: Server = createServer()
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
    await new Promise<void>((resolve) => server.listen(0, host, resolve))
    const port = (server.address() as { port: number }).port
    const client = createConnection({ host: connectTo, port })
    cleanups.push(() => {
      client.destroy()
      server.close()
    })
    const socket = await accepted
    cleanups.push(() => socket.destroy())
    return socket
  }

  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    // A dual-stack listener sees ::ffff:127.0.0.1; the client's row is in tcp.
    ['::', '127.0.0.1'],
  ])('listening on %s, a client of %s is ours', async (host, connectTo) => {
    const socket = await acceptOne(host, connectTo)
    const ends = {
      clientAddress: socket.remoteAddress!,
      clientPort: socket.remotePort!,
      serverAddress: socket.localAddress!,
      serverPort: socket.localPort!,
    }
    expect(await new TcpSocketOwners().ownerOf(ends, { signal })).toBe(process.getuid!())
  })
})
