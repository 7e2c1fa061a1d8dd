import { access, chmod, unlink, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { DaemonStatus, PeersDocument } from '@tlsmesh/tlsmeshd/admin-schema'
import { DaemonUnreachableError, defaultAdmin, fetchAdminJson } from './admin-client.ts'
import { formatPeers, formatStatus } from './format-status.ts'
import { DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, runWatch } from './watch-command.ts'

const USAGE = `Usage: tlsmesh <command> [options]

Commands:
  keygen --out FILE [--force]             write a new mesh key (mode 0600): copy it to every node
  keygen --identity --out FILE [--force]  write a new node identity (mode 0600) and print its peer id
  status [--admin HOST:PORT] [--json]     show a node's status
  peers  [--admin HOST:PORT] [--json]     the node's peers: direction, ping, gossip mesh per realm, score
  watch  [--admin HOST:PORT ...] [--once] [--interval MS] [--json]
                                          live view of a node, or of a fleet with several --admin
                                          (a row per node; one that stops answering shows DOWN);
                                          q or Ctrl-C quits; --once prints one frame and exits

--admin defaults to $TLSMESH_ADMIN, else 127.0.0.1:7646 (the daemon's admin endpoint, loopback only;
reach another host's through ssh -L). Colour only on a terminal, never with NO_COLOR set.

Exit codes: 0 ok, 1 failed (watch --once: some node down), 2 usage error, 3 daemon unreachable
(watch --once: every node down).
`

class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
  readonly code = 'usage'
}

const ADMIN = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/

function checkAdmin(value: string): string {
  if (!ADMIN.test(value)) throw new UsageError(`--admin: expected HOST:PORT, got "${value}"`)
  return value
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

async function keygen(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: { out: { type: 'string' }, force: { type: 'boolean' }, identity: { type: 'boolean' } },
  })
  const out = values.out
  if (out === undefined) throw new UsageError('keygen: --out FILE is required')
  const force = values.force === true
  // Loaded here: the mesh package pulls in libp2p, a second of start-up the other commands do not need.
  const mesh = await import('@tlsmesh/mesh')
  if (values.identity === true) {
    if (!force && (await exists(out))) {
      throw new Error(`keygen: ${out} exists; pass --force to replace it (the node then gets a new peer id)`)
    }
    if (force) await unlink(out).catch(() => {})
    const key = await mesh.loadOrCreateIdentity(out)
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const peerId = peerIdFromPrivateKey(key).toString()
    process.stderr.write(`wrote a new node identity to ${out}; its peer id (for --seed .../p2p/<id>):\n`)
    process.stdout.write(`${peerId}\n`)
    return 0
  }
  try {
    // `mode` applies only to a new file: one being replaced is made owner-only before the key goes in.
    if (force) {
      await chmod(out, 0o600).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      })
    }
    await writeFile(out, mesh.generateMeshKey(), { mode: 0o600, flag: force ? 'w' : 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`keygen: ${out} exists; pass --force to replace it (every node then needs the new key)`)
    }
    throw err
  }
  process.stderr.write(`wrote a new mesh key to ${out}: copy it to every node of the mesh\n`)
  return 0
}

function adminAndJson(args: string[]): { admin: string; json: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: { admin: { type: 'string' }, json: { type: 'boolean' } },
  })
  return { admin: checkAdmin(values.admin ?? defaultAdmin(process.env)), json: values.json === true }
}

async function status(args: string[]): Promise<number> {
  const { admin, json } = adminAndJson(args)
  const result = await fetchAdminJson<DaemonStatus>(admin, '/status')
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result))
  return 0
}

async function peers(args: string[]): Promise<number> {
  const { admin, json } = adminAndJson(args)
  const result = await fetchAdminJson<PeersDocument>(admin, '/peers')
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatPeers(result))
  return 0
}

async function watch(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      admin: { type: 'string', multiple: true },
      once: { type: 'boolean' },
      interval: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const admins = [...new Set((values.admin ?? [defaultAdmin(process.env)]).map(checkAdmin))]
  const intervalMs = values.interval === undefined ? DEFAULT_INTERVAL_MS : Number(values.interval)
  if (!Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS || intervalMs > 60_000) {
    throw new UsageError(
      `--interval: expected milliseconds from ${MIN_INTERVAL_MS} to 60000, got "${values.interval}"`,
    )
  }
  return runWatch(
    { admins, once: values.once === true, json: values.json === true, intervalMs },
    { stdout: process.stdout, stdin: process.stdin, env: process.env },
  )
}

const commands: Record<string, (args: string[]) => Promise<number>> = { keygen, status, peers, watch }

const [command, ...rest] = process.argv.slice(2)
if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
  process.stdout.write(USAGE)
  process.exit(command === undefined ? 2 : 0)
}
const run = Object.hasOwn(commands, command) ? commands[command] : undefined
if (run === undefined) {
  process.stderr.write(`tlsmesh: unknown command "${command}"\n\n${USAGE}`)
  process.exit(2)
}
let code: number
try {
  code = await run(rest)
} catch (err) {
  const message = (err as Error).message
  process.stderr.write(`tlsmesh: ${message}\n`)
  const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  process.exit(usage ? 2 : err instanceof DaemonUnreachableError ? 3 : 1)
}
// Exit now rather than when fetch's idle keep-alive sockets close (stdout is synchronous on Linux).
process.exit(code)
