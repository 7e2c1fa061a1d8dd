/**
 * The version of the admin HTTP contract: the paths below and the documents they answer. Served as
 * the `schema` field of `/status` and `/peers` and as the `ADMIN_API_VERSION_HEADER` header of every
 * answer. A field may be added within a version; renaming, removing or retyping one, or changing a
 * path, takes a new version (see the README).
 */
export const ADMIN_API_VERSION = 1

/** Response header carrying `ADMIN_API_VERSION`: tells the version of answers without a `schema` field. */
export const ADMIN_API_VERSION_HEADER = 'tlsmesh-admin-api'

/** The admin endpoint's paths, all GET (or HEAD). */
export const ADMIN_PATHS = {
  /** `200 ok` while the process serves requests. */
  healthz: '/healthz',
  /** `Readiness`: 200 when ready, else 503. */
  readyz: '/readyz',
  /** `DaemonStatus`. */
  status: '/status',
  /** `PeersDocument`. */
  peers: '/peers',
  /** Prometheus text (`docs/metrics.md`). */
  metrics: '/metrics',
} as const

export type AdminPath = (typeof ADMIN_PATHS)[keyof typeof ADMIN_PATHS]
