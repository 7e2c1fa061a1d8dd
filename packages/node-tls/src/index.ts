export {
  type AttachedSessionCache,
  type AttachSessionCacheInit,
  attachSessionCache,
  type SessionCacheStats,
  sessionResumptionOptions,
} from './attach-session-cache.ts'
export { DEFAULT_REALM, DEFAULT_SESSION_TTL_MS } from './constants.ts'
export { sessionProtocolVersion, TLS1_3_VERSION } from './session-der.ts'
