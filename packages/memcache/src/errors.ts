/**
 * Start-up refusals of the memcached endpoint. Code and tests branch on `.name`, metrics and logs
 * on `.code`; the message names the field and what is allowed, so an operator can fix the config.
 */

/** `host` is not a loopback address: any host on the network could then read every session. */
export class NotLoopbackError extends Error {
  static override name = 'NotLoopbackError'
  override name = 'NotLoopbackError'
  readonly code = 'not-loopback'
}

/** A `MemcacheServerInit` field out of range; the message names the field. */
export class InvalidMemcacheOptionError extends Error {
  static override name = 'InvalidMemcacheOptionError'
  override name = 'InvalidMemcacheOptionError'
  readonly code = 'invalid-option'
}

/** `socketPath` is held by a live server, or is a file that is not a socket (never deleted). */
export class SocketPathInUseError extends Error {
  static override name = 'SocketPathInUseError'
  override name = 'SocketPathInUseError'
  readonly code = 'socket-path-in-use'
}

/** `start()` on a server that is already started or was stopped. */
export class ServerStateError extends Error {
  static override name = 'ServerStateError'
  override name = 'ServerStateError'
  readonly code = 'bad-state'
}

/** `allowUids` on a system without a readable /proc/net/tcp: the owner of a client cannot be found. */
export class SocketOwnerUnavailableError extends Error {
  static override name = 'SocketOwnerUnavailableError'
  override name = 'SocketOwnerUnavailableError'
  readonly code = 'socket-owner-unavailable'
}

/** A user name that is not valid, or that neither getent nor /etc/passwd knows. `user` is the name. */
export class UnknownUserError extends Error {
  static override name = 'UnknownUserError'
  override name = 'UnknownUserError'
  readonly code = 'unknown-user'
  constructor(
    readonly user: string,
    message: string,
  ) {
    super(message)
  }
}

/** getent failed other than by not knowing the user (a timeout, a broken NSS module). */
export class UserLookupFailedError extends Error {
  static override name = 'UserLookupFailedError'
  override name = 'UserLookupFailedError'
  readonly code = 'user-lookup-failed'
}
