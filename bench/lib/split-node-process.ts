// A prototype of a node split across two threads, for bench/stall.ts --design split: the mesh
// (libp2p, the tree, sync, its replica) runs on a worker thread, as mesh-node-process.ts does, and
// feeds every record it stores to a second replica on the main thread, which serves the memcached
// endpoint and the TLS server; what those write goes to the worker's replica, which publishes it. What
// it shows: how far the server's thread is spared when the mesh's work runs on a thread of its own.
// What it is not: the design to ship. Each record is held twice (twice the heap), and pages for a
// peer's catch-up are filled on the worker from its own copy, where the design would ask the server's
// thread for them.
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { Worker } from 'node:worker_threads'
import { createMemcacheServer } from '@tlsmesh/memcache'
import { attachSessionCache, sessionResumptionOptions } from '@tlsmesh/node-tls'
import { createReplicaStore, LocalSessionCache } from '@tlsmesh/store'
import { type LoopDelayWindow, loopDelayWindow } from './loop-delay.ts'
import type { MeshNodeConfig } from './mesh-node-process.ts'
import { mirrorReplica } from './replica-mirror.ts'

const config = JSON.parse(process.argv[2] ?? '{}') as MeshNodeConfig
const now = (): number => Date.now() + (config.clockOffsetMs ?? 0)
const store = createReplicaStore({
  realms: config.realms,
  maxEntriesPerRealm: config.maxEntriesPerRealm ?? 500_000,
  maxBytesPerRealm: config.maxBytesPerRealm ?? 1 << 30,
})

const heapFlag = process.execArgv.find((arg) => arg.startsWith('--max-old-space-size='))
// Node 20 does not run --import's loaders on a worker: tsx is registered there first.
const workerScript = new URL('./split-mesh-worker.ts', import.meta.url).href
const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(workerScript)}) })`
const worker = new Worker(bootstrap, {
  eval: true,
  argv: [JSON.stringify({ ...config, memcache: undefined, tls: undefined, mirrorToParent: true })],
  ...(heapFlag !== undefined
    ? { resourceLimits: { maxOldGenerationSizeMb: Number(heapFlag.split('=')[1]) } }
    : {}),
})
worker.on('error', (err) => {
  console.error(`split node: the mesh thread failed: ${err.message}`)
  process.exit(1)
})
type FromWorker =
  | { kind: 'ipc'; message: { type: string; multiaddrs?: string[]; memory?: NodeJS.MemoryUsage } }
  | { kind: 'records' }
const workerReady = new Promise<{ type: string; multiaddrs?: string[] }>((resolve) => {
  const onMessage = (message: FromWorker): void => {
    if (message.kind !== 'ipc' || message.message.type !== 'ready') return
    worker.off('message', onMessage)
    resolve(message.message)
  }
  worker.on('message', onMessage)
})
const ready = await workerReady
// Written here as the mesh's own, so that the worker publishes them under its peer id.
const peerId = ready.multiaddrs?.[0]?.split('/p2p/')[1]
if (peerId === undefined) throw new Error('split node: the mesh thread was ready without a peer id')
const cache = new LocalSessionCache({ store, now, origin: peerId })
mirrorReplica(store, worker, 'sync', now)

const memcache =
  config.memcache !== undefined
    ? createMemcacheServer(
        { host: '127.0.0.1', port: config.memcache.port, realm: config.memcache.realm, version: 'bench' },
        { cache, now },
      )
    : undefined
await memcache?.start()
let tlsServer: TlsServer | undefined
if (config.tls !== undefined) {
  tlsServer = createTlsServer(
    {
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      ...sessionResumptionOptions({ sessionIdContext: 'bench' }),
    },
    (socket) => socket.end(),
  )
  attachSessionCache(tlsServer, cache, { realm: config.tls.realm })
  await new Promise<void>((resolve) => tlsServer!.listen(0, '127.0.0.1', resolve))
}
let loopDelay: LoopDelayWindow | undefined

worker.on('message', (message: FromWorker) => {
  if (message.kind !== 'ipc' || message.message.type === 'ready') return
  process.send?.(message.message.type === 'status' ? withBothHeaps(message.message) : message.message)
})

/** A status whose heap is the worker's alone, with this thread's heap added: the process's whole heap. */
function withBothHeaps(status: { memory?: NodeJS.MemoryUsage }): unknown {
  if (status.memory === undefined) return status
  const here = process.memoryUsage()
  return {
    ...status,
    memory: {
      ...status.memory,
      heapUsed: status.memory.heapUsed + here.heapUsed,
      heapTotal: status.memory.heapTotal + here.heapTotal,
    },
  }
}
const memcacheAddress = memcache?.addresses()[0]
process.send?.({
  ...ready,
  ...(memcacheAddress?.transport === 'tcp' ? { memcachePort: memcacheAddress.port } : {}),
  ...(tlsServer !== undefined ? { tlsPort: (tlsServer.address() as AddressInfo).port } : {}),
})

process.on('message', (message: { type: string; action?: 'start' | 'report' }) => {
  if (message.type !== 'loop-delay') {
    worker.postMessage(message)
    return
  }
  // The server's thread is this one: its loop delay is what a handshake waits.
  loopDelay ??= loopDelayWindow()
  if (message.action === 'start') loopDelay.start()
  process.send?.({ type: 'loop-delay', ...(message.action === 'report' ? loopDelay.report() : {}) })
})

const stop = async (): Promise<void> => {
  tlsServer?.close()
  await memcache?.stop()
  await worker.terminate()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('disconnect', stop)
