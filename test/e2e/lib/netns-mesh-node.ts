// One mesh node in its own process, started inside a network namespace (`ip netns exec NS node ...`)
// and driven over IPC by netns-fleet.ts: publishes records, says which of a list of ids it holds, and
// reports status. Unlike bench/lib/mesh-node-process.ts it takes listen and announce addresses, a mesh
// name and mDNS, which discovery and partition tests need.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createMeshNode } from '@tlsmesh/mesh'
import { libp2pOf } from '@tlsmesh/mesh/testing'

export interface NetnsNodeConfig {
  meshKeyFile: string
  meshName?: string
  listen: string[]
  announce?: string[]
  seeds: string[]
  mdns: boolean
  realms: string[]
  syncIntervalMs?: number
}

export type NetnsNodeRequest =
  | { type: 'status' }
  | { type: 'publish'; realm: string; count: number; valueBytes: number }
  | { type: 'holds'; realm: string; ids: string[] }
  | { type: 'discovered' }

const config = JSON.parse(process.argv[2] ?? '{}') as NetnsNodeConfig
const mesh = await createMeshNode({
  meshKey: readFileSync(config.meshKeyFile),
  ...(config.meshName !== undefined ? { meshName: config.meshName } : {}),
  listen: config.listen,
  ...(config.announce !== undefined ? { announce: config.announce } : {}),
  seeds: config.seeds,
  mdns: config.mdns,
  realms: config.realms,
  ...(config.syncIntervalMs !== undefined ? { syncIntervalMs: config.syncIntervalMs } : {}),
})
// Peers found by discovery (mDNS here), whether or not a connection to them ever succeeded.
const discovered = new Set<string>()
libp2pOf(mesh).addEventListener('peer:discovery', (event) => discovered.add(event.detail.id.toString()))
await mesh.start()

process.on('message', (message: NetnsNodeRequest) => {
  if (message.type === 'status') {
    process.send?.({ type: 'status', status: mesh.status() })
  } else if (message.type === 'publish') {
    const value = randomBytes(message.valueBytes)
    const ids: string[] = []
    for (let i = 0; i < message.count; i++) {
      const id = randomBytes(32)
      mesh.cache.set(message.realm, id, value, 300_000)
      ids.push(id.toString('hex'))
    }
    mesh.flush()
    process.send?.({ type: 'publish', ids })
  } else if (message.type === 'holds') {
    let held = 0
    for (const id of message.ids)
      if (mesh.cache.get(message.realm, Buffer.from(id, 'hex')) !== undefined) held++
    process.send?.({ type: 'holds', held })
  } else if (message.type === 'discovered') {
    process.send?.({ type: 'discovered', peers: [...discovered] })
  }
})

process.send?.({ type: 'ready', peerId: mesh.peerId.toString(), multiaddrs: mesh.multiaddrs() })
const stop = async (): Promise<void> => {
  await mesh.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('disconnect', stop)
