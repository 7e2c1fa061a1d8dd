import { chmod, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { DaemonUnreachableError, fetchAdminJson } from './admin-client.ts'
import { type DaemonStatus, formatStatus } from './format-status.ts'

const USAGE = `Usage: tlsmesh <command> [options]

Commands:
  keygen --out FILE [--force]          write a new mesh key (mode 0600)
  status [--admin HOST:PORT] [--json]  show a node's status (default admin 127.0.0.1:7646)

Exit codes: 0 ok, 1 failed, 2 usage error, 3 daemon unreachable.
`

class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

async function keygen(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, force: { type: 'boolean' } } })
  if (values.out === undefined) throw new UsageError('keygen: --out FILE is required')
  // Loaded here: the mesh package pulls in libp2p, a second of start-up the other commands do not need.
  const { generateMeshKey } = await import('@tlsmesh/mesh')
  try {
    // `mode` applies only to a new file: one being replaced is made owner-only before the key goes in.
    if (values.force === true) {
      await chmod(values.out, 0o600).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      })
    }
    await writeFile(values.out, generateMeshKey(), { mode: 0o600, flag: values.force === true ? 'w' : 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(
        `keygen: ${values.out} exists; pass --force to replace it (every node then needs the new key)`,
      )
    }
    throw err
  }
  process.stderr.write(`wrote a new mesh key to ${values.out}: copy it to every node of the mesh\n`)
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { admin: { type: 'string' }, json: { type: 'boolean' } } })
  const result = await fetchAdminJson<DaemonStatus>(values.admin ?? '127.0.0.1:7646', '/status')
  process.stdout.write(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result))
}

const commands: Record<string, (args: string[]) => Promise<void>> = { keygen, status }

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
try {
  await run(rest)
} catch (err) {
  const message = (err as Error).message
  process.stderr.write(`tlsmesh: ${message}\n`)
  const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  process.exit(usage ? 2 : err instanceof DaemonUnreachableError ? 3 : 1)
}
