import type { Logger } from '@tlsmesh/store'
import type { ThreadPort } from './thread-port.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

interface LogLine {
  level: LogLevel
  bindings: Record<string, unknown>
  obj: object
  msg: string | undefined
}

/** The levels `logger` writes (pino's `isLevelEnabled`; all four for a logger without it). */
export function enabledLevels(logger: Logger): LogLevel[] {
  const check = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled
  return LEVELS.filter((level) => check?.call(logger, level) ?? true)
}

/**
 * A logger for another thread's code: each line of an enabled level goes through `port` to the
 * thread that owns the real logger (relayLogs), with its child bindings. Lines hold what the same
 * code logs in one thread; a line that cannot be cloned goes as its message alone.
 */
export function portLogger(
  port: ThreadPort,
  levels: readonly LogLevel[],
  bindings: Record<string, unknown> = {},
): Logger {
  const line =
    (level: LogLevel) =>
    (obj: object, msg?: string): void => {
      if (!levels.includes(level)) return
      try {
        port.postMessage({ level, bindings, obj, msg } satisfies LogLine)
      } catch {
        port.postMessage({ level, bindings, obj: {}, msg } satisfies LogLine)
      }
    }
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (more) => portLogger(port, levels, { ...bindings, ...more }),
  }
}

/** Writes the lines another thread's portLogger sends to `logger`. Returns what stops it. */
export function relayLogs(port: ThreadPort, logger: Logger): () => void {
  const onMessage = ({ level, bindings, obj, msg }: LogLine): void => {
    if (!LEVELS.includes(level)) return
    const target = Object.keys(bindings).length > 0 ? logger.child(bindings) : logger
    target[level](obj, msg)
  }
  port.on('message', onMessage)
  return () => port.off('message', onMessage)
}
