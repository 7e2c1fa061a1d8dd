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
  | 'ttl-too-long'
  | 'from-future'
  | 'nothing-new'
  | 'internal'

export type ValidationAction = 'ignore' | 'reject'

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
