import { type LoadedConfig, loadDaemonConfig } from './config-file.ts'
import { SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { type Daemon, startDaemon } from './daemon.ts'
import { InvalidOptionError, USAGE } from './daemon-options.ts'
import { createDaemonLogger } from './logger.ts'
import { formatConfig } from './print-config.ts'

const argv = process.argv.slice(2)

let loaded: LoadedConfig
try {
  loaded = await loadDaemonConfig(argv, process.env)
} catch (err) {
  if (!(err instanceof InvalidOptionError)) throw err
  process.stderr.write(`tlsmeshd: ${err.message}\n(see "tlsmeshd --help")\n`)
  process.exit(2)
}
if (loaded.kind === 'help') {
  process.stdout.write(USAGE)
  process.exit(0)
}
if (loaded.kind === 'print') {
  for (const warning of loaded.warnings) process.stderr.write(`tlsmeshd: ${warning}\n`)
  process.stdout.write(formatConfig(loaded))
  process.exit(0)
}

const logger = createDaemonLogger({ level: loaded.options.logLevel, format: loaded.options.logFormat })
const log = logger.child({ module: 'main' })
for (const warning of loaded.warnings) log.warn(warning)
if (loaded.configFile !== undefined) log.info({ configFile: loaded.configFile }, 'configuration read')

// Installed before the (seconds long) start-up: SIGHUP's default action would kill the process, and
// `systemctl reload` may come early. A reload asked for meanwhile runs once the daemon is up.
let startedDaemon: Daemon | undefined
let reloadPending = false
process.on('SIGHUP', () => {
  log.info({ signal: 'SIGHUP' }, 'reloading configuration')
  if (startedDaemon === undefined) reloadPending = true
  else reload(startedDaemon)
})

let daemon: Daemon
try {
  daemon = await startDaemon(loaded.options, logger, {
    origins: loaded.origins,
    ...(loaded.configFile !== undefined ? { configFile: loaded.configFile } : {}),
    ...(process.env.CREDENTIALS_DIRECTORY !== undefined
      ? { credentialsDirectory: process.env.CREDENTIALS_DIRECTORY }
      : {}),
  })
} catch (err) {
  // A setting found wrong only now (a key file others can read, a path that is not there): one line,
  // exit 2, like a setting refused before start-up.
  if (err instanceof InvalidOptionError) {
    process.stderr.write(`tlsmeshd: ${err.message}\n`)
    process.exit(2)
  }
  log.fatal({ err: (err as Error).message }, 'start-up failed')
  process.stderr.write(`tlsmeshd: ${(err as Error).message}\n`)
  process.exit(1)
}

let stopping = false
const shutdown = (signal: string): void => {
  if (stopping) {
    log.warn({ signal }, 'second signal: exiting now')
    process.exit(1)
  }
  stopping = true
  log.info({ signal }, 'shutting down')
  // A drain that hangs (a peer that never closes its stream) must not keep a unit in "deactivating".
  setTimeout(() => {
    log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out: exiting')
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS).unref()
  daemon.stop().then(
    () => process.exit(0),
    (err: Error) => {
      log.error({ err: err.message }, 'shutdown failed')
      process.exit(1)
    },
  )
}

// SIGHUP: the same command line and environment, the config file read again. One reload at a time;
// a signal during one is queued, so the last edit of the file always wins.
let reloading: Promise<void> | undefined
let reloadAgain = false
function reload(daemon: Daemon): void {
  if (stopping) return
  if (reloading !== undefined) {
    reloadAgain = true
    return
  }
  reloading = loadDaemonConfig(argv, process.env)
    .then((next) => {
      if (next.kind !== 'run' && next.kind !== 'print') return
      daemon.reload(next.options)
    })
    .catch((err: Error) => {
      daemon.reloadFailed()
      log.error({ err: err.message }, 'reload refused: the new configuration is invalid; nothing changed')
    })
    .finally(() => {
      reloading = undefined
      if (reloadAgain) {
        reloadAgain = false
        reload(daemon)
      }
    })
}

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
startedDaemon = daemon
if (reloadPending) reload(daemon)
