// A bare mesh node in its own process, driven over IPC by the benchmarks: publishes records at a
// given rate and reports its status, CPU and memory.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createMeshNode, type MeshNodeInit } from '@tlsmesh/mesh'

interface Config {
  meshKeyFile: string
  seeds: string[]
  realms: string[]
  gossip?: MeshNodeInit['gossip']
  maxEntriesPerRealm?: number
}

interface PublishCommand {
  type: 'publish'
  realm: string
  count: number
  ratePerSecond: number
  valueBytes: number
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config
const mesh = await createMeshNode({
  meshKey: readFileSync(config.meshKeyFile),
  seeds: config.seeds,
  realms: config.realms,
  ...(config.gossip !== undefined ? { gossip: config.gossip } : {}),
  store: { maxEntriesPerRealm: config.maxEntriesPerRealm ?? 200_000, maxBytesPerRealm: 1024 * 1024 * 1024 },
})
await mesh.start()

/** Publishes `count` records evenly over time in 5 ms slices; resolves when the last is handed over. */
async function publish(command: PublishCommand): Promise<number> {
  const started = performance.now()
  const value = randomBytes(command.valueBytes)
  const sliceMs = 5
  let sent = 0
  while (sent < command.count) {
    const due = Math.min(
      command.count,
      Math.ceil(((performance.now() - started + sliceMs) / 1000) * command.ratePerSecond),
    )
    for (; sent < due; sent++) mesh.cache.set(command.realm, randomBytes(32), value, 300_000)
    await new Promise((r) => setTimeout(r, sliceMs))
  }
  mesh.flush()
  return performance.now() - started
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'status') {
    process.send?.({
      type: 'status',
      mesh: mesh.status(),
      cpu: process.cpuUsage(),
      memory: process.memoryUsage(),
    })
  } else if (message.type === 'publish') {
    publish(message as PublishCommand).then((elapsedMs) => process.send?.({ type: 'published', elapsedMs }))
  }
})

process.send?.({ type: 'ready', multiaddrs: mesh.multiaddrs() })
const stop = async (): Promise<void> => {
  await mesh.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('disconnect', stop)
