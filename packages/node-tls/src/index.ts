export {
  type AttachedSessionCache,
  type AttachSessionCacheInit,
  attachSessionCache,
  type SessionCacheStats,
  sessionResumptionOptions,
} from './attach-session-cache.ts'
export {
  type AttachedTicketKeys,
  attachTicketKeys,
  type TicketKeySource,
  type TicketKeysStats,
  ticketResumptionOptions,
} from './attach-ticket-keys.ts'
export { DEFAULT_LOOKUP_TIMEOUT_MS, DEFAULT_REALM, DEFAULT_SESSION_TTL_MS } from './constants.ts'
export {
  createMemcacheSessionClient,
  MemcacheSessionClient,
  type MemcacheSessionClientInit,
} from './memcache-session-client.ts'
export { isRemoteSessionCache, type RemoteSessionCache } from './remote-session-cache.ts'
export { sessionProtocolVersion, TLS1_3_VERSION } from './session-der.ts'
