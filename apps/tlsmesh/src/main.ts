import { access, chmod, unlink, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { DaemonUnreachableError, defaultAdmin, fetchPeers, fetchStatus } from '@tlsmesh/admin-api'
import { formatPeers, formatStatus } from './format-status.ts'
import { PACKAGE_VERSION } from './version.ts'
import { DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, runWatch } from './watch-command.ts'

// Help texts are wrapped by hand at 80 columns (a test holds them to it): they are few and fixed.
const USAGE = `Usage: tlsmesh <command> [options]
       tlsmesh help <command>    a command's help (or: tlsmesh <command> --help)

Commands:
  keygen   write a new mesh key, or with --identity a node identity (mode 0600)
  status   show a node's status
  peers    a node's peers: direction, ping, gossip mesh per realm, score
  watch    live view of a node, or of a fleet with several --admin

--admin defaults to $TLSMESH_ADMIN, else 127.0.0.1:7646 (the daemon's admin
endpoint, loopback only; reach another host's through ssh -L). Colour only on a
terminal, never with NO_COLOR set.

Options: --version prints the version, -h or --help this help.

Exit codes: 0 ok, 1 failed (watch --once: some node down), 2 usage error,
3 daemon unreachable (watch --once: every node down).
`

const ADMIN_OPTION = `  --admin HOST:PORT  the node's admin endpoint (default: $TLSMESH_ADMIN, else
                     127.0.0.1:7646)`

const HELP: Record<string, string> = {
  keygen: `Usage: tlsmesh keygen --out FILE [--force]
       tlsmesh keygen --identity --out FILE [--force]

Writes a new mesh key (mode 0600): the pre-shared key every node of the mesh
holds; copy it to each node (tlsmeshd --mesh-key FILE). With --identity, writes
a new node identity instead (for tlsmeshd --identity FILE) and prints its peer
id, so that other nodes can name it in --seed .../p2p/<peer id> before it
starts.

Options:
  --out FILE    the file to write (required); refused if it exists
  --identity    write a node identity, not a mesh key
  --force       replace an existing file (every node then needs the new mesh
                key; a new identity gives the node a new peer id)
  -h, --help    show this help
`,
  status: `Usage: tlsmesh status [--admin HOST:PORT] [--json]

Shows a node's status from its admin endpoint: its peer id, listen addresses
(the first one, with /p2p/<peer id>, seeds other nodes), peers, realms, replica,
catch-up and ticket keys.

Options:
${ADMIN_OPTION}
  --json             print the endpoint's /status JSON as it is
  -h, --help         show this help

Exit codes: 0 ok, 1 failed, 2 usage error, 3 daemon unreachable.
`,
  peers: `Usage: tlsmesh peers [--admin HOST:PORT] [--json]

Lists a node's connected peers: direction, ping, the realms whose gossip mesh
holds each, and gossipsub's score (negative after invalid messages).

Options:
${ADMIN_OPTION}
  --json             print the endpoint's /peers JSON as it is
  -h, --help         show this help

Exit codes: 0 ok, 1 failed, 2 usage error, 3 daemon unreachable.
`,
  watch: `Usage: tlsmesh watch [--admin HOST:PORT ...] [--once] [--interval MS] [--json]

A live view of a node, or of a fleet with several --admin: a row per node, and
one that stops answering shows DOWN. q or Ctrl-C quits.

Options:
${ADMIN_OPTION}; repeatable
  --once             print one frame and exit
  --interval MS      time between frames, ${MIN_INTERVAL_MS} to 60000 (default: ${DEFAULT_INTERVAL_MS})
  --json             one JSON document per frame instead of the view
  -h, --help         show this help

Exit codes: 0 ok, 1 failed (--once: some node down), 2 usage error, 3 daemon
unreachable (--once: every node down).
`,
}

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
  const result = await fetchStatus(admin)
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result))
  return 0
}

async function peers(args: string[]): Promise<number> {
  const { admin, json } = adminAndJson(args)
  const result = await fetchPeers(admin)
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

async function main(argv: string[]): Promise<never> {
  const [command, ...rest] = argv
  if (command === '--version') {
    process.stdout.write(`tlsmesh ${PACKAGE_VERSION}\n`)
    process.exit(0)
  }
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    // `tlsmesh help watch`: that command's help; `tlsmesh help` alone: this one.
    const topic = command === 'help' ? rest[0] : undefined
    if (topic !== undefined) {
      if (!Object.hasOwn(HELP, topic)) {
        process.stderr.write(
          `tlsmesh: unknown command "${topic}" (commands: ${Object.keys(HELP).join(', ')})\n`,
        )
        process.exit(2)
      }
      process.stdout.write(HELP[topic]!)
      process.exit(0)
    }
    process.stdout.write(USAGE)
    process.exit(command === undefined ? 2 : 0)
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined
  if (run === undefined) {
    process.stderr.write(`tlsmesh: unknown command "${command}"\n\n${USAGE}`)
    process.exit(2)
  }
  // Before the command's own parser, so that `tlsmesh keygen --help` writes nothing.
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP[command]!)
    process.exit(0)
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
  // Exit now rather than when the HTTP agent's idle keep-alive sockets close (stdout is synchronous
  // on Linux).
  process.exit(code)
}

void main(process.argv.slice(2))
