import { constants } from 'node:crypto'
import type { Server as TlsServer } from 'node:tls'
import type { SessionCache } from '@tlsmesh/store'
import { DEFAULT_LOOKUP_TIMEOUT_MS, DEFAULT_REALM, DEFAULT_SESSION_TTL_MS } from './constants.ts'
import { isRemoteSessionCache, type RemoteSessionCache } from './remote-session-cache.ts'
import { sessionProtocolVersion, TLS1_3_VERSION } from './session-der.ts'

export interface AttachSessionCacheInit {
  /** Realm of this server group: only servers of the same realm resume each other's sessions. */
  realm?: string
  /** How long a session may be resumed, ms. Default 300 s (Node's `sessionTimeout` default). */
  ttlMs?: number
  /** Called when storing a session throws (refused by a limit): the handshake is never affected. */
  onError?: (err: unknown) => void
  /**
   * For a RemoteSessionCache: how long a handshake may wait for a lookup before it goes on as a full
   * handshake. Default 50 ms.
   */
  lookupTimeoutMs?: number
}

export interface SessionCacheStats {
  /** resumeSession calls: clients that offered a session id. */
  lookups: number
  hits: number
  misses: number
  /** TLS 1.2 sessions stored (and published). */
  stored: number
  /**
   * TLS 1.3 sessions not stored: clients resume TLS 1.3 with tickets and never offer these ids
   * back, so publishing them would only load the mesh.
   */
  skippedTls13: number
  errors: number
  /** Remote lookups that missed their deadline (the handshake went on as a full one). */
  timeouts: number
}

export interface AttachedSessionCache {
  readonly stats: SessionCacheStats
  detach(): void
}

/**
 * The server options session-id resumption across processes needs:
 * - one `sessionIdContext` fleet-wide (Node derives its default from the process's argv, so two
 *   servers started differently would refuse each other's sessions);
 * - tickets off (SSL_OP_NO_TICKET), or a ticket-capable client gets a ticket instead of a session id
 *   and never takes the path the cache serves.
 */
export function sessionResumptionOptions(init: { sessionIdContext: string; secureOptions?: number }): {
  sessionIdContext: string
  secureOptions: number
} {
  if (init.sessionIdContext.length === 0 || init.sessionIdContext.length > 32) {
    // OpenSSL's SSL_MAX_SID_CTX_LENGTH; Node passes the string through.
    throw new RangeError('sessionIdContext: 1 to 32 characters')
  }
  return {
    sessionIdContext: init.sessionIdContext,
    secureOptions: (init.secureOptions ?? 0) | constants.SSL_OP_NO_TICKET,
  }
}

/**
 * Serves TLS session resumption from a SessionCache (a local replica, or the mesh's replicated cache)
 * on a `tls.Server`, `https.Server` or `http2` secure server. Works on `newSession` / `resumeSession`,
 * which Node holds the TLS 1.2 handshake on: both callbacks are answered at once from memory.
 */
export function attachSessionCache(
  server: TlsServer,
  cache: SessionCache | RemoteSessionCache,
  init: AttachSessionCacheInit = {},
): AttachedSessionCache {
  const realm = init.realm ?? DEFAULT_REALM
  const ttlMs = init.ttlMs ?? DEFAULT_SESSION_TTL_MS
  const lookupTimeoutMs = init.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS
  const stats: SessionCacheStats = {
    lookups: 0,
    hits: 0,
    misses: 0,
    stored: 0,
    skippedTls13: 0,
    errors: 0,
    timeouts: 0,
  }
  const remote = isRemoteSessionCache(cache) ? cache : undefined
  const local = isRemoteSessionCache(cache) ? undefined : cache

  const onNewSession = (sessionId: Buffer, sessionData: Buffer, done: () => void): void => {
    // Release the handshake first: storing and publishing never delay it.
    done()
    if (sessionProtocolVersion(sessionData) === TLS1_3_VERSION) {
      stats.skippedTls13++
      return
    }
    try {
      if (remote !== undefined) remote.store(sessionId, sessionData, ttlMs)
      else local!.set(realm, sessionId, sessionData, ttlMs)
      stats.stored++
    } catch (err) {
      stats.errors++
      init.onError?.(err)
    }
  }

  const answer = (
    done: (err: Error | null, data: Buffer | null) => void,
    value: Uint8Array | undefined,
  ): void => {
    if (value === undefined) {
      stats.misses++
      done(null, null)
      return
    }
    stats.hits++
    done(null, Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }

  // The handshake waits for `done`: it is called exactly once, by the deadline at the latest.
  const lookupRemote = (
    cache: RemoteSessionCache,
    sessionId: Buffer,
    done: (err: Error | null, data: Buffer | null) => void,
  ): void => {
    const signal = AbortSignal.timeout(lookupTimeoutMs)
    let answered = false
    const finish = (value: Uint8Array | undefined): void => {
      if (answered) return
      answered = true
      answer(done, value)
    }
    signal.addEventListener('abort', () => {
      if (!answered) stats.timeouts++
      finish(undefined)
    })
    cache.fetch(sessionId, { signal }).then(finish, (err: unknown) => {
      stats.errors++
      init.onError?.(err)
      finish(undefined)
    })
  }

  const onResumeSession = (
    sessionId: Buffer,
    done: (err: Error | null, data: Buffer | null) => void,
  ): void => {
    stats.lookups++
    if (remote !== undefined) {
      lookupRemote(remote, sessionId, done)
      return
    }
    let value: Uint8Array | undefined
    try {
      value = local!.get(realm, sessionId)?.value
    } catch (err) {
      stats.errors++
      init.onError?.(err)
    }
    answer(done, value)
  }

  server.on('newSession', onNewSession)
  server.on('resumeSession', onResumeSession)
  return {
    stats,
    detach() {
      server.off('newSession', onNewSession)
      server.off('resumeSession', onResumeSession)
    },
  }
}
