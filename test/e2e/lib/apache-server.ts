// Apache httpd 2.4 (Debian's apache2) with mod_ssl's session cache in memcached
// (mod_socache_memcache), for interop tests: a minimal config file per instance, one process in the
// foreground (-X). Its error log is a file: stderr is a socket here, which Apache cannot reopen.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ManagedProcess, startProcess, waitForPort } from './managed-process.ts'

export const APACHE_BINARY = '/usr/sbin/apache2'
const MODULES = '/usr/lib/apache2/modules'
/** The user Debian's Apache serves as when started by root (children drop to it). */
export const APACHE_USER = 'www-data'

export const apacheInstalled = (): boolean => existsSync(APACHE_BINARY)
const isRoot = (): boolean => process.getuid?.() === 0

export interface ApacheInit {
  name: string
  dir: string
  /** A loopback address of its own: every instance listens on the same port (see below). */
  host: string
  port: number
  certFile: string
  keyFile: string
  /** `127.0.0.1:PORT` or the path of tlsmeshd's unix socket. */
  memcache: string
}

export interface ApacheServer {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly process: ManagedProcess
  stop(): Promise<void>
}

/**
 * The part of the config the README shows. mod_ssl's session id context is derived from the
 * virtual host's ServerName and port: instances that must resume each other's sessions share both.
 * Tickets off, or TLS 1.2 clients get tickets sealed with per-instance keys and never look up the
 * cache. mod_socache_memcache speaks the text protocol; a `host` starting with `/` is a unix
 * socket (apr-util >= 1.6).
 */
export function apacheSessionCacheConfig(init: { memcache: string }): string {
  return `ServerName www.example.test
SSLSessionCache memcache:${init.memcache}
SSLSessionCacheTimeout 300
SSLSessionTickets off
`
}

export async function startApache(init: ApacheInit): Promise<ApacheServer> {
  const runDir = join(init.dir, init.name)
  mkdirSync(runDir, { recursive: true })
  const configFile = join(runDir, 'httpd.conf')
  writeFileSync(
    configFile,
    `ServerRoot ${runDir}
DefaultRuntimeDir ${runDir}
PidFile ${runDir}/httpd.pid
ErrorLog ${runDir}/error.log
LogLevel warn
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule socache_memcache_module ${MODULES}/mod_socache_memcache.so
LoadModule ssl_module ${MODULES}/mod_ssl.so
${isRoot() ? `User ${APACHE_USER}\nGroup ${APACHE_USER}\n` : ''}Listen ${init.host}:${init.port}
DocumentRoot ${runDir}
SSLEngine on
SSLCertificateFile ${init.certFile}
SSLCertificateKeyFile ${init.keyFile}
${apacheSessionCacheConfig(init)}`,
  )
  const child = startProcess(init.name, APACHE_BINARY, ['-X', '-f', configFile], {
    logFiles: [join(runDir, 'error.log')],
  })
  try {
    await waitForPort(init.host, init.port, child)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { name: init.name, host: init.host, port: init.port, process: child, stop: () => child.stop() }
}

/**
 * A directory for tlsmeshd's unix socket that Apache's children (www-data) can reach: group
 * www-data, setgid so the socket (mode 0660) takes that group. As in the README.
 */
export function createApacheSocketDir(path: string): string {
  mkdirSync(path, { recursive: true })
  if (isRoot()) {
    chownSync(path, 0, Number(execFileSync('id', ['-g', APACHE_USER], { encoding: 'utf8' }).trim()))
    chmodSync(path, 0o2750)
  }
  return path
}
