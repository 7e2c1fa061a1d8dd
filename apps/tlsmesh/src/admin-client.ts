/** The daemon could not be reached or answered with an error: exit code 3 for scripts. */
export class DaemonUnreachableError extends Error {
  static override name = 'DaemonUnreachableError'
  override name = 'DaemonUnreachableError'
  readonly code = 'daemon-unreachable'
}

/** GETs a JSON document from a tlsmeshd admin endpoint, with a deadline. */
export async function fetchAdminJson<T>(admin: string, path: string, timeoutMs = 3000): Promise<T> {
  const url = `http://${admin}${path}`
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    throw new DaemonUnreachableError(
      `cannot reach tlsmeshd at ${admin} (${cause}); is it running with --admin ${admin}?`,
    )
  }
  if (!response.ok)
    throw new DaemonUnreachableError(`tlsmeshd at ${admin} answered ${response.status} for ${path}`)
  return (await response.json()) as T
}
