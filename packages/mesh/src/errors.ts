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
