// The running daemon as a process: its logger, its start-up, and what its signals do (SIGHUP
// reloads, SIGTERM and SIGINT drain and exit). Loaded only to run: libp2p and pino take time that
// --help, --version and --check-config do without.
import type { Logger } from '@tlsmesh/store'
import { loadDaemonConfig } from './config-file.ts'
import { SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { type Daemon, startDaemon } from './daemon.ts'
import type { InvalidOptionError, ResolvedConfig } from './daemon-options.ts'
import { createDaemonLogger } from './logger.ts'
import { type SettingContext, settingOfStartupError } from './startup-checks.ts'

export interface DaemonProcessInit {
  loaded: ResolvedConfig & { warnings: string[] }
  context: SettingContext
  /** The command line, read again with the config file on SIGHUP. */
  argv: string[]
  /** Ends the process with one line naming a setting (exit 2). */
  refuse: (err: InvalidOptionError) => never
}

export async function runDaemonProcess(init: DaemonProcessInit): Promise<void> {
  const { loaded, context } = init
  const logger = createDaemonLogger({ level: loaded.options.logLevel, format: loaded.options.logFormat })
  const log = logger.child({ module: 'main' })
  for (const warning of loaded.warnings) log.warn(warning)
  if (loaded.configFile !== undefined) log.info({ configFile: loaded.configFile }, 'configuration read')
  // Installed before the (seconds long) start-up: SIGHUP's default action would kill the process,
  // and `systemctl reload` may come early. A reload asked for meanwhile runs once the daemon is up.
  const signals = new DaemonSignals(log, init.argv)
  let daemon: Daemon
  try {
    daemon = await startDaemon(loaded.options, logger, {
      origins: loaded.origins,
      ...(loaded.configFile !== undefined ? { configFile: loaded.configFile } : {}),
      ...(context.credentialsDirectory !== undefined
        ? { credentialsDirectory: context.credentialsDirectory }
        : {}),
      onMeshFailure: (err) => signals.failed(err),
    })
  } catch (err) {
    // A setting found wrong only now (a port in use, a key file others can read): one line naming
    // it, exit 2, like a setting refused before start-up. Printed once: stderr, not also a fatal log.
    const refusal = settingOfStartupError(err, loaded.options, context)
    if (refusal !== undefined) init.refuse(refusal)
    log.debug({ err }, 'start-up failed')
    process.stderr.write(`tlsmeshd: start-up failed: ${(err as Error).message.split('\n')[0]}\n`)
    process.exit(1)
  }
  signals.started(daemon)
}

/** What the process does on SIGHUP, SIGTERM and SIGINT, before and after the daemon is up. */
class DaemonSignals {
  readonly #log: Logger
  readonly #argv: string[]
  #daemon: Daemon | undefined
  #reloadPending = false
  #stopping = false
  #reloading: Promise<void> | undefined
  #reloadAgain = false

  constructor(log: Logger, argv: string[]) {
    this.#log = log
    this.#argv = argv
    process.on('SIGHUP', () => {
      log.info({ signal: 'SIGHUP' }, 'reloading configuration')
      if (this.#daemon === undefined) this.#reloadPending = true
      else this.#reload(this.#daemon)
    })
  }

  started(daemon: Daemon): void {
    this.#daemon = daemon
    process.on('SIGTERM', () => this.#shutdown(daemon, 'SIGTERM'))
    process.on('SIGINT', () => this.#shutdown(daemon, 'SIGINT'))
    if (this.#reloadPending) this.#reload(daemon)
  }

  /**
   * The mesh stopped working (its transport thread ended): the replica would serve on without
   * replicating, so the process stops and exits 1, for the service manager to restart it.
   */
  failed(err: Error): void {
    this.#log.error({ err: err.message }, 'the mesh failed: exiting so that tlsmeshd is restarted')
    if (this.#daemon === undefined) process.exit(1)
    else if (!this.#stopping) this.#shutdown(this.#daemon, 'mesh failure', 1)
  }

  #shutdown(daemon: Daemon, signal: string, exitCode = 0): void {
    const log = this.#log
    if (this.#stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    this.#stopping = true
    log.info({ signal }, 'shutting down')
    // A drain that hangs (a peer that never closes its stream) must not keep a unit "deactivating".
    setTimeout(() => {
      log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out: exiting')
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS).unref()
    daemon.stop().then(
      () => process.exit(exitCode),
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed')
        process.exit(1)
      },
    )
  }

  /**
   * The same command line and environment, the config file read again. One reload at a time; a
   * signal during one is queued, so the last edit of the file always wins.
   */
  #reload(daemon: Daemon): void {
    if (this.#stopping) return
    if (this.#reloading !== undefined) {
      this.#reloadAgain = true
      return
    }
    this.#reloading = loadDaemonConfig(this.#argv, process.env)
      .then((next) => {
        if (next.kind === 'help' || next.kind === 'version') return
        daemon.reload(next.options)
      })
      .catch((err: Error) => {
        daemon.reloadFailed()
        this.#log.error(
          { err: err.message },
          'reload refused: the new configuration is invalid; nothing changed',
        )
      })
      .finally(() => {
        this.#reloading = undefined
        if (this.#reloadAgain) {
          this.#reloadAgain = false
          this.#reload(daemon)
        }
      })
  }
}
