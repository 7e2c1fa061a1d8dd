export type { FlushableSessionCache } from './cache-operations.ts'
export {
  DEFAULT_ALLOW_FLUSH_ALL,
  DEFAULT_FIRST_COMMAND_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_SOCKET_CONNECTIONS,
  DEFAULT_MAX_TCP_CONNECTIONS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_PORT,
  DEFAULT_REALM,
  DEFAULT_SOCKET_MODE,
  MAX_KEY_BYTES,
} from './constants.ts'
export { type CacheUsage, replicaCacheUsage } from './endpoint-stats.ts'
export {
  InvalidMemcacheOptionError,
  NotLoopbackError,
  ServerStateError,
  SocketOwnerUnavailableError,
  SocketPathInUseError,
  UnknownUserError,
  UserLookupFailedError,
} from './errors.ts'
export { isValidUserName, resolveUserIds, type UserIdSources } from './local-users.ts'
export {
  createMemcacheServer,
  isLoopbackHost,
  type MemcacheAddress,
  type MemcacheServer,
  type MemcacheServerComponents,
  type MemcacheServerInit,
} from './memcache-server.ts'
export type { MemcacheTotals } from './metrics.ts'
