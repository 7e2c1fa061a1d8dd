import { type LoadedConfig, loadDaemonConfig } from './config-file.ts'
import { SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import type { Daemon } from './daemon.ts'
import { InvalidOptionError, USAGE } from './daemon-options.ts'
import { formatConfig } from './print-config.ts'
import { checkNamedFiles, type SettingContext, settingOfStartupError } from './startup-checks.ts'
import { PACKAGE_VERSION } from './version.ts'

const argv = process.argv.slice(2)

/** A setting refused: one line on stderr naming it, exit 2, whatever stage found it. */
function refuse(err: InvalidOptionError): never {
  process.stderr.write(`tlsmeshd: ${err.message}\n`)
  process.exit(2)
}

let loaded: LoadedConfig
try {
  loaded = await loadDaemonConfig(argv, process.env)
} catch (err) {
  if (!(err instanceof InvalidOptionError)) throw err
  refuse(err)
}
if (loaded.kind === 'help') {
  process.stdout.write(USAGE)
  process.exit(0)
}
if (loaded.kind === 'version') {
  process.stdout.write(`tlsmeshd ${PACKAGE_VERSION}\n`)
  process.exit(0)
}
if (loaded.kind === 'print') {
  for (const warning of loaded.warnings) process.stderr.write(`tlsmeshd: ${warning}\n`)
  process.stdout.write(formatConfig(loaded))
  process.exit(0)
}

// Loaded only to run: libp2p and pino take a second that --help, --version and the checks do without;
// started now so that the load overlaps the checks of the files below.
const running =
  loaded.kind === 'run' ? Promise.all([import('./daemon.ts'), import('./logger.ts')]) : undefined

const context: SettingContext = {
  origins: loaded.origins,
  configFile: loaded.configFile,
  credentialsDirectory: process.env.CREDENTIALS_DIRECTORY,
}
// The files named are opened before anything is bound or logged, by start-up and --check-config
// alike (like `nginx -t`): what passes the check gets past this point of a start.
try {
  await checkNamedFiles(loaded.options, context)
} catch (err) {
  if (!(err instanceof InvalidOptionError)) throw err
  refuse(err)
}
if (loaded.kind === 'check') {
  for (const warning of loaded.warnings) process.stderr.write(`tlsmeshd: ${warning}\n`)
  process.stdout.write('configuration OK\n')
  process.exit(0)
}
const options = loaded.options

const [{ startDaemon }, { createDaemonLogger }] = await running!
const logger = createDaemonLogger({ level: options.logLevel, format: options.logFormat })
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
  daemon = await startDaemon(options, logger, {
    origins: loaded.origins,
    ...(loaded.configFile !== undefined ? { configFile: loaded.configFile } : {}),
    ...(process.env.CREDENTIALS_DIRECTORY !== undefined
      ? { credentialsDirectory: process.env.CREDENTIALS_DIRECTORY }
      : {}),
  })
} catch (err) {
  // A setting found wrong only now (a port in use, a key file others can read): one line naming it,
  // exit 2, like a setting refused before start-up. Printed once: stderr, not also as a fatal log.
  const refusal = settingOfStartupError(err, options, context)
  if (refusal !== undefined) refuse(refusal)
  log.debug({ err }, 'start-up failed')
  process.stderr.write(`tlsmeshd: start-up failed: ${(err as Error).message.split('\n')[0]}\n`)
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
      if (next.kind === 'help' || next.kind === 'version') return
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
