// HAProxy 2.6 (Debian's `haproxy`) terminating TLS with its session ticket keys read from a
// `tls-ticket-keys` file, for interop tests: one config file per instance, master-worker mode in
// the foreground (`-W -db`), so that SIGUSR2 to the master re-reads the config and the key file and
// hands the listening socket to a new worker (`-x sockpair@`): HAProxy's documented way to rotate
// ticket keys ("appending new key to the file and reloading the process").
import { existsSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { type ManagedProcess, startProcess, waitForPort } from './managed-process.ts'

export const HAPROXY_BINARY = '/usr/sbin/haproxy'
export const haproxyInstalled = (): boolean => existsSync(HAPROXY_BINARY)

export interface HaproxyInit {
  name: string
  /** The instance's own directory: config, pid file, admin socket. */
  dir: string
  port: number
  /** Certificate and private key in one PEM file (HAProxy's `crt`). */
  pemFile: string
  /** The file tlsmeshd writes with `--ticket-keys-format haproxy`. */
  ticketKeyFile: string
}

export interface HaproxyServer {
  readonly name: string
  readonly port: number
  readonly process: ManagedProcess
  /**
   * `show tls-keys *` on the admin socket: the keys HAProxy holds for its one listener, base64, in
   * ring order (line j of the file went to slot j mod 3), not file order.
   */
  tlsKeys(): Promise<string[]>
  stop(): Promise<void>
}

/** Where an instance keeps its master's pid: known before it starts, so a daemon's hook can name it. */
export function haproxyPidFile(dir: string): string {
  return join(dir, 'haproxy.pid')
}

/** The `--on-ticket-keys` hook: SIGUSR2 to the master, which reloads; fails while HAProxy is not running. */
export function haproxyReloadCommand(dir: string): string {
  return `kill -USR2 "$(cat ${haproxyPidFile(dir)})"`
}

export function haproxyConfig(init: HaproxyInit): string {
  return `global
  pidfile ${haproxyPidFile(init.dir)}
  stats socket ${join(init.dir, 'admin.sock')} mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend www
  bind 127.0.0.1:${init.port} ssl crt ${init.pemFile} tls-ticket-keys ${init.ticketKeyFile} ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3
  http-request return status 200 content-type text/plain string ok
`
}

export async function startHaproxy(init: HaproxyInit): Promise<HaproxyServer> {
  const configFile = join(init.dir, 'haproxy.cfg')
  writeFileSync(configFile, haproxyConfig(init))
  const child = startProcess(init.name, HAPROXY_BINARY, ['-W', '-db', '-f', configFile])
  await waitForPort('127.0.0.1', init.port, child)
  return {
    name: init.name,
    port: init.port,
    process: child,
    async tlsKeys() {
      const text = await adminCommand(join(init.dir, 'admin.sock'), 'show tls-keys *')
      // "# id secret", "# 0 (file)", then "0.0 <base64>" per slot.
      return text
        .split('\n')
        .map((line) => /^\d+\.\d+ (\S+)$/.exec(line)?.[1])
        .filter((key): key is string => key !== undefined)
    },
    stop: () => child.stop(),
  }
}

/** One command on HAProxy's admin socket (non-interactive: it answers and closes). */
function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    let answer = ''
    socket.setTimeout(3000, () => socket.destroy(new Error(`no answer to "${command}" on ${socketPath}`)))
    socket.once('connect', () => socket.write(`${command}\n`))
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8')
    })
    socket.once('error', reject)
    socket.once('close', () => resolve(answer))
  })
}
