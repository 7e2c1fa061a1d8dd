// One long-lived mesh node of the churn soak, in its own process, driven over IPC: publishes records
// at a given rate, counts every record it receives from the others (and how many only anti-entropy
// delivered), answers echoes (the churner's traffic) and reports its memory (after a full GC) every
// `sampleMs`.
import { readFileSync } from 'node:fs'
import { createMeshNode } from '@tlsmesh/mesh'
import { libp2pOf } from '@tlsmesh/mesh/testing'
import { createReplicaStore } from '@tlsmesh/store'
import { handleEcho } from './echo-protocol.ts'
import { sampleMemory } from './memory-samples.ts'
import { decodeSoakRecordId, encodeSoakRecordId, ReceivedRecords } from './soak-records.ts'

export interface SoakNodeConfig {
  index: number
  nodes: number
  meshKeyFile: string
  seeds: string[]
  realm: string
  sampleMs: number
  /** The orchestrator's clock origin, so that every process's samples share one time axis. */
  startedAt: number
  /** Records expire after this; with a prune this often, the replica stays at a steady size. */
  recordTtlMs: number
  pruneIntervalMs: number
  /** Most records any one node will publish (sizes the received-record bitmaps up front). */
  maxRecordsPerNode: number
}

export type SoakNodeCommand =
  | { type: 'publish'; ratePerSecond: number; valueBytes: number }
  | { type: 'stop-publishing' }
  | { type: 'check'; published: number[] }

const config = JSON.parse(process.argv[2] ?? '{}') as SoakNodeConfig
/** Records that reached the replica, by any path. */
const received = new ReceivedRecords(config.nodes, config.maxRecordsPerNode)
/** Records delivered by dissemination (gossipsub or the broadcast tree); the rest came by sync. */
const disseminated = new ReceivedRecords(config.nodes, config.maxRecordsPerNode)
const store = createReplicaStore({ realms: [config.realm] })
// Every record the replica takes, by any path (gossip, broadcast tree, catch-up), so that this sees
// what catch-up repaired; onRecordReceived sees dissemination only.
store.watch({
  stored: (record) => {
    const decoded = decodeSoakRecordId(record.id)
    if (decoded !== undefined) received.add(decoded.origin, decoded.seq)
  },
  removed: () => {},
})
const mesh = await createMeshNode(
  {
    meshKey: readFileSync(config.meshKeyFile),
    seeds: config.seeds,
    realms: [config.realm],
    pruneIntervalMs: config.pruneIntervalMs,
  },
  {
    store,
    onRecordReceived: (_realm, id) => {
      const decoded = decodeSoakRecordId(id)
      if (decoded !== undefined) disseminated.add(decoded.origin, decoded.seq)
    },
  },
)
await handleEcho(libp2pOf(mesh))
await mesh.start()

setInterval(() => {
  process.send?.({
    type: 'sample',
    index: config.index,
    sample: sampleMemory(config.startedAt),
    connections: libp2pOf(mesh).getConnections().length,
  })
}, config.sampleMs).unref()

let published = 0
let publisher: NodeJS.Timeout | undefined
const TICK_MS = 50

function startPublishing(ratePerSecond: number, valueBytes: number): void {
  const value = new Uint8Array(valueBytes).fill(config.index)
  const started = performance.now()
  publisher = setInterval(() => {
    // catch up to the rate by the clock, so a slow tick does not lower it
    const due = Math.min(
      config.maxRecordsPerNode,
      Math.floor(((performance.now() - started) / 1000) * ratePerSecond),
    )
    for (; published < due; published++) {
      mesh.cache.set(config.realm, encodeSoakRecordId(config.index, published), value, config.recordTtlMs)
    }
  }, TICK_MS)
}

process.on('message', (command: SoakNodeCommand) => {
  if (command.type === 'publish') {
    startPublishing(command.ratePerSecond, command.valueBytes)
    process.send?.({ type: 'publish' })
  } else if (command.type === 'stop-publishing') {
    clearInterval(publisher)
    mesh.flush()
    process.send?.({ type: 'stop-publishing', published })
  } else if (command.type === 'check') {
    let missing = 0
    let bySync = 0
    const missingRanges: Record<number, Array<[number, number]>> = {}
    command.published.forEach((count, origin) => {
      if (origin === config.index) return
      const lost = count - received.count(origin)
      missing += lost
      bySync += received.count(origin) - disseminated.count(origin)
      if (lost > 0) missingRanges[origin] = received.missingRanges(origin, count, 5)
    })
    process.send?.({ type: 'check', missing, missingRanges, bySync, received: received.total() })
  }
})

process.send?.({
  type: 'ready',
  peerId: mesh.peerId.toString(),
  multiaddrs: mesh.multiaddrs().map((ma) => (ma.includes('/p2p/') ? ma : `${ma}/p2p/${mesh.peerId}`)),
})

const stop = async (): Promise<void> => {
  clearInterval(publisher)
  await mesh.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('disconnect', stop)
