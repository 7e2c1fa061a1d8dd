export const DEFAULT_ADMIN = '127.0.0.1:7646'
export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/7645'
export const DEFAULT_REALM = 'default'
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
