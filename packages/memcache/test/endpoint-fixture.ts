import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createReplicaStore, LocalSessionCache, type ReplicaStoreInit } from '@tlsmesh/store'
import { Registry } from 'prom-client'
import { replicaCacheUsage } from '../src/endpoint-stats.ts'
import {
  createMemcacheServer,
  DEFAULT_REALM,
  type MemcacheServer,
  type MemcacheServerComponents,
  type MemcacheServerInit,
} from '../src/index.ts'

/** 2023-11-14T22:13:20Z: a fixed clock, well past the 30-day relative/absolute exptime boundary. */
export const NOW_MS = 1_700_000_000_000
export const NOW_S = NOW_MS / 1000

export interface Endpoint {
  server: MemcacheServer
  cache: LocalSessionCache
  registry: Registry
  clock: { now: number }
  port: number
  socketPath: string | undefined
  metric(name: string, labels?: Record<string, string>): Promise<number>
  close(): Promise<void>
}

export interface EndpointOptions {
  init?: Partial<MemcacheServerInit>
  store?: ReplicaStoreInit
  /** Serve a unix socket in a fresh temp dir too. */
  socket?: boolean
  components?: Partial<MemcacheServerComponents>
}

/**
 * A real server on 127.0.0.1 (port 0) over a real LocalSessionCache with a manual clock; `stats`
 * reads the served realm of its store.
 */
export async function startEndpoint(options: EndpointOptions = {}): Promise<Endpoint> {
  const clock = { now: NOW_MS }
  const now = () => clock.now
  const store = createReplicaStore(options.store ?? {})
  const cache = new LocalSessionCache({ store, now })
  const registry = new Registry()
  const dir = options.socket ? mkdtempSync(join(tmpdir(), 'tlsmesh-memcache-')) : undefined
  const socketPath = dir === undefined ? undefined : join(dir, 'memcache.sock')
  const server = createMemcacheServer(
    {
      host: '127.0.0.1',
      port: 0,
      version: '1.6.0-tlsmesh-test',
      socketPath,
      idleTimeoutMs: 0,
      ...options.init,
    },
    {
      cache,
      registry,
      now,
      cacheUsage: replicaCacheUsage(store, options.init?.realm ?? DEFAULT_REALM),
      ...options.components,
    },
  )
  await server.start()
  const tcp = server.addresses().find((address) => address.transport === 'tcp')
  return {
    server,
    cache,
    registry,
    clock,
    port: tcp?.transport === 'tcp' ? tcp.port : 0,
    socketPath,
    async metric(name, labels = {}) {
      const metric = registry.getSingleMetric(name)
      if (metric === undefined) throw new Error(`no metric ${name}`)
      const { values } = await metric.get()
      return values
        .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
        .reduce((sum, v) => sum + v.value, 0)
    },
    async close() {
      await server.stop()
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    },
  }
}
