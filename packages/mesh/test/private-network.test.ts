import { randomBytes } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type {
  Connection,
  ConnectionProtector,
  Libp2p,
  MultiaddrConnection,
  StreamMessageEvent,
} from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import fc from 'fast-check'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { generateMeshKey, parseMeshKey } from '../src/mesh-key.ts'
import {
  createPrivateNetworkProtector,
  decodePrivateNetworkKey,
  KeystreamExhaustedError,
  PrivateNetworkHandshakeError,
  PrivateNetworkKeyMismatchError,
  XSalsa20Stream,
} from '../src/private-network.ts'

// Wire compatibility with `@libp2p/pnet` is the point: the keystream is checked against the
// `xsalsa20` package pnet uses, and real libp2p nodes on either protector talk to each other.

/** The `xsalsa20` module `@libp2p/pnet` loads (WebAssembly; each cipher must be finalized). */
interface PnetCipher {
  update(input: Uint8Array): Uint8Array
  finalize(): void
}
const pnetDir = realpathSync(fileURLToPath(new URL('../node_modules/@libp2p/pnet', import.meta.url)))
const pnetXsalsa20 = createRequire(`${pnetDir}/package.json`)('xsalsa20') as (
  nonce: Uint8Array,
  key: Uint8Array,
) => PnetCipher

/** Cuts `data` at the given sizes (cycled), as a transport delivers it. */
function chunks(data: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0, i = 0; at < data.byteLength; i++) {
    const size = sizes[i % sizes.length] ?? 1
    out.push(data.subarray(at, at + size))
    at += size
  }
  return out
}

describe('XSalsa20Stream', () => {
  it('gives the one-shot keystream however the input is cut', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        // Chunks below and above the keystream made ahead (2 KiB), so both paths meet at any offset.
        fc.uint8Array({ minLength: 0, maxLength: 9000 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 2000, max: 3000 })), {
          minLength: 1,
          maxLength: 12,
        }),
        (key, nonce, data, sizes) => {
          const stream = new XSalsa20Stream(key, nonce)
          const pieces = chunks(
            data,
            sizes.map((s) => s || 1),
          ).map((c) => stream.update(c))
          expect(Buffer.concat(pieces)).toEqual(Buffer.from(xsalsa20(key, nonce, data)))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('produces the bytes of the xsalsa20 package pnet uses, chunk for chunk', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const ours = new XSalsa20Stream(key, nonce)
    const theirs = pnetXsalsa20(nonce, key)
    try {
      // Odd sizes across block boundaries, and one large chunk (noble's whole-block path).
      for (const size of [1, 63, 64, 65, 7, 128, 1000, 4097, 65_537, 3]) {
        const data = randomBytes(size)
        expect(Buffer.from(ours.update(data))).toEqual(Buffer.from(theirs.update(data)))
      }
    } finally {
      theirs.finalize()
    }
  })

  it('encrypts a list of chunks as one run of bytes', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const data = randomBytes(300)
    const list = Object.assign(chunks(data, [5, 70, 1]), { byteLength: data.byteLength })
    const stream = new XSalsa20Stream(key, nonce)
    expect(Buffer.from(stream.update(list))).toEqual(Buffer.from(xsalsa20(key, nonce, data)))
  })

  it('refuses to run past 2^32 - 1 blocks instead of diverging from pnet', () => {
    const stream = new XSalsa20Stream(randomBytes(32), randomBytes(24), 2 ** 32 - 3)
    expect(stream.update(new Uint8Array(100)).byteLength).toBe(100)
    expect(stream.update(new Uint8Array(28)).byteLength).toBe(28)
    expect(() => stream.update(new Uint8Array(1))).toThrow(
      expect.objectContaining({ name: KeystreamExhaustedError.name }),
    )
  })
})

describe('decodePrivateNetworkKey', () => {
  it('reads the 32-byte key of a mesh key file, as pnet does', () => {
    const file = generateMeshKey()
    const hex = new TextDecoder().decode(file).trim().split('\n')[2] ?? ''
    expect(Buffer.from(decodePrivateNetworkKey(file)).toString('hex')).toBe(hex)
    expect(Buffer.from(decodePrivateNetworkKey(new TextDecoder().decode(file))).toString('hex')).toBe(hex)
  })

  it('fails at configuration time on a bad key', () => {
    expect(() => createPrivateNetworkProtector({ psk: 'not a key' })).toThrow(
      expect.objectContaining({ name: 'InvalidMeshKeyError' }),
    )
  })
})

const MULTISTREAM_HEADER = new TextEncoder().encode('\x13/multistream/1.0.0\n')

/** Collects what arrives on a stream until `bytes` have come. */
function receive(stream: MultiaddrConnection, bytes: number): Promise<Uint8Array> {
  const got: Uint8Array[] = []
  let size = 0
  return new Promise((resolve, reject) => {
    stream.addEventListener('message', (event: StreamMessageEvent) => {
      const data = event.data instanceof Uint8Array ? event.data : event.data.subarray()
      got.push(data)
      size += data.byteLength
      if (size >= bytes) resolve(Buffer.concat(got))
    })
    stream.addEventListener('close', (event) => reject(event.error ?? new Error('closed')))
  })
}

describe('protect', () => {
  it('exchanges nonces and carries bytes both ways', async () => {
    const psk = generateMeshKey()
    const [outbound, inbound] = multiaddrConnectionPair()
    const protector = createPrivateNetworkProtector({ psk })()
    const [a, b] = await Promise.all([protector.protect(outbound), protector.protect(inbound)])
    const ab = Buffer.concat([MULTISTREAM_HEADER, randomBytes(70_001)])
    const ba = Buffer.concat([MULTISTREAM_HEADER, randomBytes(333)])
    const atB = receive(b as MultiaddrConnection, ab.byteLength)
    const atA = receive(a as MultiaddrConnection, ba.byteLength)
    a.send(ab)
    b.send(ba)
    expect(Buffer.from(await atB)).toEqual(ab)
    expect(Buffer.from(await atA)).toEqual(ba)
  })

  it('gives up on a silent peer after its timeout when given no signal', async () => {
    const [outbound] = multiaddrConnectionPair()
    const protector = createPrivateNetworkProtector({ psk: generateMeshKey(), timeout: 200 })()
    const started = Date.now()
    await expect(protector.protect(outbound)).rejects.toMatchObject({
      name: PrivateNetworkHandshakeError.name,
      code: 'handshake-failed',
    })
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('cuts off a peer with another key at its first bytes', async () => {
    const [outbound, inbound] = multiaddrConnectionPair()
    const [a, b] = await Promise.all([
      createPrivateNetworkProtector({ psk: generateMeshKey() })().protect(outbound),
      createPrivateNetworkProtector({ psk: generateMeshKey() })().protect(inbound),
    ])
    const atB = receive(b as MultiaddrConnection, 1)
    a.send(MULTISTREAM_HEADER)
    await expect(atB).rejects.toMatchObject({
      name: PrivateNetworkKeyMismatchError.name,
      code: 'key-mismatch',
    })
    expect(b.status).toBe('aborted')
  })
})

const ECHO = '/tlsmesh/test/echo/1.0.0'
const nodes: Libp2p[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()))
})

async function startNode(connectionProtector: () => ConnectionProtector): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector,
  })
  nodes.push(node)
  await node.handle(ECHO, (stream) => {
    stream.addEventListener('message', (event: StreamMessageEvent) => stream.send(event.data))
    stream.addEventListener('remoteCloseWrite', () => void stream.close().catch(() => {}))
  })
  return node
}

async function echo(connection: Connection, payload: Uint8Array): Promise<Uint8Array> {
  const stream = await connection.newStream(ECHO)
  const got: Uint8Array[] = []
  let size = 0
  await new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', (event: StreamMessageEvent) => {
      const data = event.data instanceof Uint8Array ? event.data : event.data.subarray()
      got.push(data)
      size += data.byteLength
      if (size >= payload.byteLength) resolve()
    })
    stream.addEventListener('close', (event) =>
      reject(event.error ?? new Error(`closed after ${size}/${payload.byteLength} bytes`)),
    )
    stream.send(payload)
  })
  // libp2p's stream close rejects with the 'close' event when the remote end finishes first (it does
  // so on either protector); all bytes are in by now, so that is not an error here.
  await stream.close().catch(() => {})
  return Buffer.concat(got)
}

async function settle(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('libp2p nodes over TCP', () => {
  it('a node on @libp2p/pnet and one on ours exchange data both ways', async () => {
    const psk = generateMeshKey()
    const stock = await startNode(preSharedKey({ psk: parseMeshKey(psk) }))
    const ours = await startNode(createPrivateNetworkProtector({ psk }))
    const sizes = [1, 63, 64, 65, 1000, 4097, 65_535, 65_537, 100 * 1024 - 1, 100 * 1024 + 3]
    for (const [from, to] of [
      [stock, ours],
      [ours, stock],
    ] as const) {
      const connection = await from.dial(to.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) })
      for (const size of sizes) {
        const payload = randomBytes(size)
        expect(Buffer.from(await echo(connection, payload))).toEqual(payload)
      }
      // and streams opened from the other end of the same connection
      const back = to.getConnections(from.peerId)[0]!
      const payload = randomBytes(12_345)
      expect(Buffer.from(await echo(back, payload))).toEqual(payload)
      await connection.close()
      // so that the next dial opens a new connection instead of reusing this closing one
      await settle('the connection to close on both ends', () => to.getConnections().length === 0)
    }
  })

  it('a node with another key cannot connect, and nothing is left half-open', async () => {
    const ours = await startNode(createPrivateNetworkProtector({ psk: generateMeshKey() }))
    const otherKey = generateMeshKey()
    const outsiders = [
      await startNode(createPrivateNetworkProtector({ psk: otherKey })),
      await startNode(preSharedKey({ psk: parseMeshKey(otherKey) })),
    ]
    const sockets = (): number =>
      process.getActiveResourcesInfo().filter((type) => type === 'TCPSocketWrap').length
    const socketsBefore = sockets()
    for (const outsider of outsiders) {
      const started = Date.now()
      // ours listens: it sees garbage where the multistream-select header should be, and resets
      await expect(
        outsider.dial(ours.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }),
      ).rejects.toThrow()
      expect(Date.now() - started).toBeLessThan(1500)
    }
    // ours dials: against ours it fails as fast; a stock listener may say nothing until a timeout
    const started = Date.now()
    await expect(
      ours.dial(outsiders[0]!.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(1500)
    await expect(
      ours.dial(outsiders[1]!.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(2000) }),
    ).rejects.toThrow()
    for (const node of [ours, ...outsiders]) expect(node.getConnections()).toHaveLength(0)
    // no socket left open on either side of any of the four attempts
    await settle('sockets to close', () => sockets() === socketsBefore)
  })
})
