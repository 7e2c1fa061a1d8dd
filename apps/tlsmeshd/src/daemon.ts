import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { createMemcacheServer, type MemcacheServer } from '@tlsmesh/memcache'
import { createMeshNode, loadOrCreateIdentity, type MeshNode } from '@tlsmesh/mesh'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createAdminServer } from './admin-server.ts'
import type { DaemonOptions } from './daemon-options.ts'

export const VERSION = '0.1.0'

export interface Daemon {
  mesh: MeshNode
  memcache: MemcacheServer | undefined
  adminAddress: { host: string; port: number }
  /** Stops taking work, then the mesh, then the admin endpoint. */
  stop(): Promise<void>
}

/** Wires the packages together from checked options and starts them. */
export async function startDaemon(options: DaemonOptions, logger: Logger): Promise<Daemon> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'tlsmesh_process_' })
  const meshKey = options.meshKeyFile !== undefined ? await readFile(options.meshKeyFile) : undefined
  if (meshKey === undefined)
    logger.warn('running without a mesh key (--insecure-dev): anyone who reaches the port can join')
  const privateKey =
    options.identityFile !== undefined ? await loadOrCreateIdentity(options.identityFile) : undefined

  const mesh = await createMeshNode(
    {
      ...(meshKey !== undefined ? { meshKey } : { insecureDev: true }),
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(options.meshName !== undefined ? { meshName: options.meshName } : {}),
      listen: options.listen,
      seeds: options.seeds,
      realms: options.realms,
      mdns: options.mdns,
    },
    { registry, logger },
  )
  await mesh.start()

  let memcache: MemcacheServer | undefined
  if (options.memcache !== undefined) {
    memcache = createMemcacheServer(
      {
        ...(options.memcache.tcp !== undefined ? options.memcache.tcp : {}),
        ...(options.memcache.socketPath !== undefined ? { socketPath: options.memcache.socketPath } : {}),
        realm: options.memcache.realm,
        version: `tlsmesh-${VERSION}`,
      },
      { cache: mesh.cache, registry, logger: logger.child({ module: 'memcache' }) },
    )
    try {
      await memcache.start()
    } catch (err) {
      await mesh.stop()
      throw err
    }
  }

  const admin = createAdminServer({ mesh, registry, version: VERSION })
  admin.listen(options.admin.port, options.admin.host)
  try {
    await once(admin, 'listening')
  } catch (err) {
    await memcache?.stop()
    await mesh.stop()
    throw err
  }
  const address = admin.address() as AddressInfo
  logger.info({ admin: `${address.address}:${address.port}` }, 'admin listening')

  return {
    mesh,
    memcache,
    adminAddress: { host: address.address, port: address.port },
    async stop() {
      // Stop taking work first, then leave the mesh, then close the admin endpoint.
      await memcache?.stop()
      await mesh.stop()
      admin.closeAllConnections()
      await new Promise<void>((resolve) => admin.close(() => resolve()))
    },
  }
}
