import { constants } from 'node:crypto'
import type { Server as TlsServer } from 'node:tls'
import { nodeTicketKeys, type TicketKey, type TicketKeySchedule } from '@tlsmesh/ticket-keys'

/** What `attachTicketKeys` needs of a schedule. */
export type TicketKeySource = Pick<TicketKeySchedule, 'current' | 'addEventListener' | 'removeEventListener'>

export interface TicketKeysStats {
  /** `setTicketKeys` calls: the first key, then one per rotation (or replaced key). */
  installs: number
  /** Name (hex) of the key installed, or null while the server still uses its own random key. */
  currentName: string | null
}

export interface AttachedTicketKeys {
  readonly stats: TicketKeysStats
  detach(): void
}

/**
 * The server options fleet-wide ticket resumption needs: one `sessionIdContext` on every server
 * (OpenSSL refuses a session, from a ticket too, made under another context; Node's default differs
 * per process: measured, TLS 1.2 and 1.3 tickets under shared keys do not resume across contexts),
 * and tickets on, i.e. `SSL_OP_NO_TICKET` cleared. The ticket counterpart of
 * `sessionResumptionOptions`, which turns tickets off so TLS 1.2 clients take the session-id path.
 */
export function ticketResumptionOptions(init: { sessionIdContext: string; secureOptions?: number }): {
  sessionIdContext: string
  secureOptions: number
} {
  if (init.sessionIdContext.length === 0 || init.sessionIdContext.length > 32) {
    throw new RangeError('sessionIdContext: 1 to 32 characters')
  }
  return {
    sessionIdContext: init.sessionIdContext,
    secureOptions: (init.secureOptions ?? 0) & ~constants.SSL_OP_NO_TICKET,
  }
}

/**
 * Installs the schedule's current key into a `tls.Server` (`https.Server`, `http2` secure server) at
 * once and at every rotation, with `setTicketKeys`. Node holds one ticket key: after a rotation,
 * tickets issued under the previous key no longer decrypt, so each client holding one gets one full
 * handshake (and a new ticket). Until the schedule holds a current key the server keeps its own
 * random key: tickets then resume on this server only.
 *
 * Tickets must be on: with `sessionResumptionOptions` (which sets `SSL_OP_NO_TICKET`) this does
 * nothing. Use `ticketResumptionOptions` instead; `attachSessionCache` may stay attached for clients
 * without ticket support (TLS 1.2 session ids).
 */
export function attachTicketKeys(server: TlsServer, schedule: TicketKeySource): AttachedTicketKeys {
  const stats: TicketKeysStats = { installs: 0, currentName: null }
  let installed: TicketKey | undefined

  const install = (): void => {
    const current = schedule.current()
    if (current === undefined || installed?.sameKey(current) === true) return
    server.setTicketKeys(nodeTicketKeys(current))
    installed = current
    stats.installs++
    stats.currentName = current.nameHex
  }

  schedule.addEventListener('keys:changed', install)
  install()
  return {
    stats,
    detach() {
      schedule.removeEventListener('keys:changed', install)
    },
  }
}
