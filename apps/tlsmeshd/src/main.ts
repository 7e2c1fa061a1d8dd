import { pino } from 'pino'
import { startDaemon } from './daemon.ts'
import { InvalidOptionError, parseDaemonArgs, USAGE } from './daemon-options.ts'

let options: ReturnType<typeof parseDaemonArgs>
try {
  options = parseDaemonArgs(process.argv.slice(2))
} catch (err) {
  if (!(err instanceof InvalidOptionError)) throw err
  process.stderr.write(`tlsmeshd: ${err.message}\n\n${USAGE}`)
  process.exit(2)
}
if (options === 'help') {
  process.stdout.write(USAGE)
  process.exit(0)
}

const logger = pino({ level: options.logLevel, base: { service: 'tlsmeshd' } })
let daemon: Awaited<ReturnType<typeof startDaemon>>
try {
  daemon = await startDaemon(options, logger)
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'start-up failed')
  process.stderr.write(`tlsmeshd: ${(err as Error).message}\n`)
  process.exit(1)
}

let stopping = false
const shutdown = (signal: string): void => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now')
    process.exit(1)
  }
  stopping = true
  logger.info({ signal }, 'shutting down')
  daemon.stop().then(
    () => process.exit(0),
    (err: Error) => {
      logger.error({ err: err.message }, 'shutdown failed')
      process.exit(1)
    },
  )
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
