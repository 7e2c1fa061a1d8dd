/** Why a gossip message was not accepted: a bounded code, used as a metric label. */
export type ValidationCode =
  | 'malformed'
  | 'too-large'
  | 'too-many-records'
  | 'unsupported-version'
  | 'invalid-record'
  | 'invalid-realm'
  | 'wrong-topic'
  | 'unsigned'
  /** The batch's signature is not its origin's over these records. */
  | 'bad-signature'
  /** Signed by a peer outside the allowlist (relayed by one inside it). */
  | 'origin-not-allowed'
  /** A record would replace or delete one that another origin made. */
  | 'not-owner'
  | 'ttl-too-long'
  | 'from-future'
  | 'nothing-new'
  | 'internal'

export type ValidationAction = 'ignore' | 'reject'

/** Why a record that a peer sent was refused before or by the replica: a bounded metric label. */
export type RecordRefusal = 'forged' | 'not-owner' | 'unrequested' | 'origin-not-allowed' | 'over-quota'

/** Which way a record came. */
export type RecordPath = 'gossip' | 'sync'

/**
 * Thrown by a gossip validator. `reject` is for what is provably bad (the sender's score drops);
 * `ignore` drops the message without punishing anyone.
 */
export class GossipValidationError extends Error {
  static override name = 'GossipValidationError'
  override name = 'GossipValidationError'
  readonly action: ValidationAction
  readonly code: ValidationCode

  constructor(action: ValidationAction, code: ValidationCode, message?: string) {
    super(message ?? `${action}: ${code}`)
    this.action = action
    this.code = code
  }
}

export class InvalidMeshKeyError extends Error {
  static override name = 'InvalidMeshKeyError'
  override name = 'InvalidMeshKeyError'
  readonly code = 'invalid-mesh-key'
}

/**
 * A key file (the mesh key, the node identity) that group or others may access, refused like ssh
 * refuses such a private key. `reason` says it without the path, for a caller that names the setting.
 */
export class KeyFilePermissionsError extends Error {
  static override name = 'KeyFilePermissionsError'
  override name = 'KeyFilePermissionsError'
  readonly code = 'key-file-permissions'
  readonly path: string
  /** The file's permission bits (`mode & 0o7777`). */
  readonly mode: number
  readonly reason: string

  constructor(path: string, mode: number) {
    const reason = `permissions ${mode.toString(8).padStart(4, '0')} are too open (must not be accessible by group or others; chmod 600)`
    super(`${path}: ${reason}`)
    this.path = path
    this.mode = mode
    this.reason = reason
  }
}

export class InvalidIdentityError extends Error {
  static override name = 'InvalidIdentityError'
  override name = 'InvalidIdentityError'
  readonly code = 'invalid-identity'
}

export class MeshNotStartedError extends Error {
  static override name = 'MeshNotStartedError'
  override name = 'MeshNotStartedError'
  readonly code = 'not-started'
}

/** A sync peer sent records it had no business sending; the reconciliation ends and it is struck. */
export class SyncPeerMisbehavedError extends Error {
  static override name = 'SyncPeerMisbehavedError'
  override name = 'SyncPeerMisbehavedError'
  readonly code: RecordRefusal

  constructor(code: RecordRefusal) {
    super(`the peer sent a record refused as ${code}`)
    this.code = code
  }
}
