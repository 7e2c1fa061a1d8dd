/** Why the daemon could not be reached: a bounded code for scripts and the watch view. */
export type UnreachableReason = 'refused' | 'timeout' | 'http-error' | 'bad-answer' | 'network'

/** The daemon could not be reached or answered with an error: exit code 3 for scripts. */
export class DaemonUnreachableError extends Error {
  static override name = 'DaemonUnreachableError'
  override name = 'DaemonUnreachableError'
  readonly code = 'daemon-unreachable'
  readonly reason: UnreachableReason

  constructor(message: string, reason: UnreachableReason) {
    super(message)
    this.reason = reason
  }
}

/** The default admin address: TLSMESH_ADMIN (as the daemon reads it), else the daemon's default. */
export function defaultAdmin(env: Record<string, string | undefined>): string {
  return env.TLSMESH_ADMIN?.trim() || '127.0.0.1:7646'
}

/** GETs a JSON document from a tlsmeshd admin endpoint, with a deadline. */
export async function fetchAdminJson<T>(admin: string, path: string, timeoutMs = 3000): Promise<T> {
  const url = `http://${admin}${path}`
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError'
    const cause = timedOut ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message)
    throw new DaemonUnreachableError(
      `cannot reach tlsmeshd at ${admin} (${cause}); is it running with --admin ${admin}?`,
      timedOut ? 'timeout' : e.cause?.code === 'ECONNREFUSED' ? 'refused' : 'network',
    )
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new DaemonUnreachableError(
      `tlsmeshd at ${admin} answered ${response.status} for ${path}`,
      'http-error',
    )
  }
  try {
    return (await response.json()) as T
  } catch {
    throw new DaemonUnreachableError(
      `tlsmeshd at ${admin} answered ${path} with something not JSON`,
      'bad-answer',
    )
  }
}
