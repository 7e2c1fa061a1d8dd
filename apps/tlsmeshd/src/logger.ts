import { type Logger, pino } from 'pino'
import pretty from 'pino-pretty'
import type { LogFormat, LogLevel } from './constants.ts'

export interface DaemonLoggerInit {
  level: LogLevel
  format: LogFormat
  /** Default process.stdout; `isTTY` decides the `auto` format. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; fd?: number }
  env?: Record<string, string | undefined>
}

/**
 * Never in a log line, at any level, even if a bug passes a record or key object to the logger:
 * pino replaces these paths before serialising.
 */
export const REDACTED_PATHS = [
  'value',
  '*.value',
  'record.value',
  'meshKey',
  '*.meshKey',
  'privateKey',
  '*.privateKey',
  'psk',
  '*.psk',
]

/**
 * The daemon's root logger: pino JSON, one object per event, each component on a
 * `logger.child({ module })`. On a terminal (or with `--log-format pretty`) the same events as
 * readable lines, colourless under NO_COLOR. Children follow this logger's level, so setting
 * `logger.level` (SIGHUP) changes every module at once.
 */
export function createDaemonLogger(init: DaemonLoggerInit): Logger {
  const stream = init.stream ?? process.stdout
  const env = init.env ?? process.env
  const options = {
    level: init.level,
    base: { service: 'tlsmeshd', pid: process.pid },
    // What log shippers (Loki, Elastic, Datadog, journald's JSON readers) expect: `"level":"info"`
    // and an ISO 8601 time, not pino's numeric level and epoch milliseconds.
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  }
  const readable = init.format === 'pretty' || (init.format === 'auto' && stream.isTTY === true)
  if (!readable) return stream === process.stdout ? pino(options) : pino(options, stream)
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== ''
  return pino(
    options,
    pretty({
      // In-process and synchronous: no worker thread, and nothing lost when the process exits.
      sync: true,
      destination: stream,
      colorize: stream.isTTY === true && !noColor,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
    }),
  )
}
