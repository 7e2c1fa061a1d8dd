/**
 * What every tlsmesh package logs through: pino's shape, reduced to the calls the packages make,
 * so pino's `Logger` fits as it is and a test can pass a plain object. Structured fields first, then
 * a fixed message; never given session contents (ids, values, master secrets, ticket or mesh keys):
 * a log line may leave the host.
 */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  /** A logger whose every line also carries `bindings`, e.g. `{ module: 'sync' }`. */
  child(bindings: Record<string, unknown>): Logger
}
