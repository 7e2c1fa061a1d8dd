/**
 * Why a node is not ready: a bounded code for alerts and scripts. A code may be added within a version:
 * show one you do not know by its message.
 */
export const READINESS_CODES = [
  'not-started',
  'no-peers',
  'no-mesh-peers',
  'catch-up-pending',
  'ticket-keys-pending',
  'ticket-key-files-pending',
] as const
export type ReadinessCode = (typeof READINESS_CODES)[number]

export interface ReadinessReason {
  code: ReadinessCode
  /** Set for `no-mesh-peers` and the ticket key codes. */
  realm?: string
  /** The reason in plain words, for a log or a terminal. */
  message: string
}

/** `GET /readyz`: 200 with `ready: true`, or 503 with the reasons; also `DaemonStatus.readiness`. */
export interface Readiness {
  ready: boolean
  /** Empty when ready. */
  reasons: ReadinessReason[]
}
