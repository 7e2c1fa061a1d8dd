import { fetchAdminJson } from './admin-client.ts'
import { ADMIN_API_VERSION, ADMIN_PATHS } from './contract.ts'
import type { PeersDocument } from './peers-document.ts'
import type { DaemonStatus } from './status-document.ts'

/**
 * The daemon answered in another version of the admin API than this client reads: it is reachable,
 * so this is not a `DaemonUnreachableError` (the CLI exits 1, not 3).
 */
export class AdminApiVersionError extends Error {
  static override name = 'AdminApiVersionError'
  override name = 'AdminApiVersionError'
  readonly code = 'admin-api-version'
  /** The document's `schema`: undefined when it had none. */
  readonly served: unknown

  constructor(message: string, served: unknown) {
    super(message)
    this.served = served
  }
}

/** Returns the document if its `schema` is `ADMIN_API_VERSION`: a reader of another shape would misread it. */
function ofThisVersion<T>(admin: string, path: string, document: T): T {
  const served =
    typeof document === 'object' && document !== null ? Reflect.get(document, 'schema') : undefined
  if (served === ADMIN_API_VERSION) return document
  const answered =
    served === undefined ? 'without a schema' : `in admin API version ${JSON.stringify(served)}`
  throw new AdminApiVersionError(
    `tlsmeshd at ${admin} answered ${path} ${answered}; this client reads version ${ADMIN_API_VERSION}`,
    served,
  )
}

/** `GET /status`, with `fetchAdminJson`'s deadline and size bound, checked to be of this version. */
export async function fetchStatus(admin: string, timeoutMs?: number): Promise<DaemonStatus> {
  const path = ADMIN_PATHS.status
  return ofThisVersion(admin, path, await fetchAdminJson<DaemonStatus>(admin, path, timeoutMs))
}

/** `GET /peers`, like `fetchStatus`. */
export async function fetchPeers(admin: string, timeoutMs?: number): Promise<PeersDocument> {
  const path = ADMIN_PATHS.peers
  return ofThisVersion(admin, path, await fetchAdminJson<PeersDocument>(admin, path, timeoutMs))
}
