// H2O 2.2 (Debian's `h2o`) with its TLS session cache in memcached, for interop tests: one config
// file per instance, the process in the foreground with its log on stderr.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ManagedProcess, startProcess, waitForPort } from './managed-process.ts'

export const H2O_BINARY = '/usr/bin/h2o'
export const h2oInstalled = (): boolean => existsSync(H2O_BINARY)

export type H2oMemcachedProtocol = 'BINARY' | 'ASCII'

export interface H2oInit {
  name: string
  dir: string
  port: number
  certFile: string
  keyFile: string
  memcachedPort: number
  protocol: H2oMemcachedProtocol
}

export interface H2oServer {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly process: ManagedProcess
  stop(): Promise<void>
}

/**
 * The part of the config the README shows. `cache-memcached-prefix` and `protocol` must be the same
 * on every server of the fleet (the prefix is part of each key); H2O 2.2 reaches memcached over
 * TCP only (libyrmcds resolves `host` with getaddrinfo: no unix socket).
 */
export function h2oSessionResumptionConfig(init: { memcachedPort: number; protocol: H2oMemcachedProtocol }) {
  return `ssl-session-resumption:
  mode: cache
  cache-store: memcached
  cache-memcached-prefix: "h2o:ssl-session-cache:"
  memcached:
    host: 127.0.0.1
    port: ${init.memcachedPort}
    protocol: ${init.protocol}
`
}

export async function startH2o(init: H2oInit): Promise<H2oServer> {
  const configFile = join(init.dir, `${init.name}.conf`)
  // No error-log (stderr) or pid-file: the test owns the process. As root, H2O serves as `nobody`.
  writeFileSync(
    configFile,
    `num-threads: 1
listen:
  host: 127.0.0.1
  port: ${init.port}
  ssl:
    certificate-file: ${init.certFile}
    key-file: ${init.keyFile}
    ocsp-update-interval: 0
${h2oSessionResumptionConfig(init)}hosts:
  default:
    paths:
      /:
        file.dir: ${init.dir}
`,
  )
  const child = startProcess(init.name, H2O_BINARY, ['-c', configFile])
  try {
    // A session made before H2O's memcached thread connects is not stored: wait for it.
    await child.waitForOutput(/connected to memcached at/)
    await waitForPort('127.0.0.1', init.port, child)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { name: init.name, host: '127.0.0.1', port: init.port, process: child, stop: () => child.stop() }
}
