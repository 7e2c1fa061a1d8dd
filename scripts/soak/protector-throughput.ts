// Throughput of the private-network protectors: `@libp2p/pnet` (xsalsa20, WebAssembly) against ours
// (`@noble/ciphers`, pure JS), and no protector at all for reference. Two libp2p nodes in this process
// (TCP, Noise, yamux on loopback); each run sends `--mib` MiB one way in 64 KiB writes with
// backpressure and waits for the receiver's acknowledgement. Also times the bare ciphers. Runs
// alternate between protectors; reports min/median/max MB/s.
//
//   node --import tsx scripts/soak/protector-throughput.ts [--mib 10] [--runs 5] [--json]
import '@tlsmesh/mesh/polyfills'
import { randomBytes } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ConnectionProtector, Libp2p, StreamMessageEvent } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createPrivateNetworkProtector, generateMeshKey, parseMeshKey } from '@tlsmesh/mesh'
import { XSalsa20Stream } from '@tlsmesh/mesh/private-network'
import { createLibp2p } from 'libp2p'
import { summarize } from './memory-samples.ts'

const { values: args } = parseArgs({
  options: {
    mib: { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
})
const totalBytes = Math.round(Number(args.mib) * 2 ** 20)
const runs = Number(args.runs)
const CHUNK = 64 * 1024
const SINK = '/tlsmesh/soak/sink/1.0.0'
const psk = parseMeshKey(generateMeshKey())

type Kind = 'pnet' | 'ours' | 'none'
const protectors: Record<Kind, (() => ConnectionProtector) | undefined> = {
  pnet: preSharedKey({ psk }),
  ours: createPrivateNetworkProtector({ psk }),
  none: undefined,
}

/** Bare cipher speed over 64 KiB chunks, MB/s. */
function cipherSpeed(): Record<'pnet' | 'ours', number> {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const pnetDir = realpathSync(join(root, 'node_modules/@libp2p/pnet'))
  const wasm = createRequire(join(pnetDir, 'package.json'))('xsalsa20') as (
    n: Uint8Array,
    k: Uint8Array,
  ) => { update(d: Uint8Array): Uint8Array; finalize(): void }
  const key = randomBytes(32)
  const nonce = randomBytes(24)
  const chunk = randomBytes(CHUNK)
  const time = (update: (d: Uint8Array) => unknown): number => {
    const started = performance.now()
    for (let sent = 0; sent < totalBytes; sent += CHUNK) update(chunk)
    return totalBytes / 1e6 / ((performance.now() - started) / 1000)
  }
  const theirs = wasm(nonce, key)
  const pnet = time((d) => theirs.update(d))
  theirs.finalize()
  const stream = new XSalsa20Stream(key, nonce)
  return { pnet, ours: time((d) => stream.update(d)) }
}

async function createNode(kind: Kind): Promise<Libp2p> {
  const protector = protectors[kind]
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(protector !== undefined ? { connectionProtector: protector } : {}),
  })
  await node.handle(SINK, (stream) => {
    let received = 0
    stream.addEventListener('message', (event: StreamMessageEvent) => {
      received += event.data.byteLength
      if (received === totalBytes) stream.send(Uint8Array.of(1))
    })
    stream.addEventListener('remoteCloseWrite', () => void stream.close().catch(() => {}))
  })
  return node
}

/** Seconds to move `totalBytes` from a to b and hear back. */
async function transfer(a: Libp2p, b: Libp2p): Promise<number> {
  const connection = await a.dial(b.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
  const payload = randomBytes(CHUNK)
  const started = performance.now()
  const stream = await connection.newStream(SINK)
  const acknowledged = new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', () => resolve())
    stream.addEventListener('close', (event) => reject(event.error ?? new Error('sink closed early')))
  })
  for (let sent = 0; sent < totalBytes; sent += CHUNK) {
    if (!stream.send(payload.subarray(0, Math.min(CHUNK, totalBytes - sent)))) await stream.onDrain()
  }
  await acknowledged
  const seconds = (performance.now() - started) / 1000
  await stream.close().catch(() => {})
  await connection.close()
  return seconds
}

const cipher = cipherSpeed()
const kinds: Kind[] = ['pnet', 'ours', 'none']
const mbps: Record<Kind, number[]> = { pnet: [], ours: [], none: [] }
const errors: Record<Kind, string[]> = { pnet: [], ours: [], none: [] }
for (let run = 0; run < runs; run++) {
  for (const kind of kinds) {
    const a = await createNode(kind)
    const b = await createNode(kind)
    try {
      mbps[kind].push(totalBytes / 1e6 / (await transfer(a, b)))
    } catch (err) {
      errors[kind].push(`${(err as Error).name}: ${(err as Error).message}`)
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }
}

const result = {
  bytes: totalBytes,
  runs,
  cipherMBps: { pnet: Math.round(cipher.pnet), ours: Math.round(cipher.ours) },
  transferMBps: Object.fromEntries(kinds.map((k) => [k, summarize(mbps[k])])),
  errors,
}
if (args.json) {
  console.log(JSON.stringify(result))
} else {
  console.log(
    `bare cipher, 64 KiB chunks: pnet (wasm) ${result.cipherMBps.pnet} MB/s, ours ${result.cipherMBps.ours} MB/s`,
  )
  for (const kind of kinds) {
    const s = summarize(mbps[kind])
    console.log(
      `${kind.padEnd(4)} ${Number(args.mib)} MiB over TCP+Noise+yamux: min ${s.min.toFixed(1)} median ${s.median.toFixed(1)} max ${s.max.toFixed(1)} MB/s` +
        (errors[kind].length > 0 ? `  (${errors[kind].length} failed: ${errors[kind][0]})` : ''),
    )
  }
}
process.exit(0)
