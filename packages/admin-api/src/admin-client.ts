import { request } from 'node:http'

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

/** An admin document larger than this is not tlsmeshd's (a `/peers` of 10,000 peers is ~3 MB). */
export const MAX_ADMIN_ANSWER_BYTES = 32 * 1024 * 1024

/**
 * GETs a JSON document from a tlsmeshd admin endpoint, with a deadline over the whole exchange.
 * node:http rather than fetch: fetch's first call loads undici, about 0.2 s of a command that should
 * answer within 0.3 s. Whatever listens on the address (another program, a local user's) is held to
 * the deadline and the size bound.
 */
export function fetchAdminJson<T>(
  admin: string,
  path: string,
  timeoutMs = 3000,
  maxBytes = MAX_ADMIN_ANSWER_BYTES,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (message: string, reason: UnreachableReason) => {
      req.destroy()
      reject(new DaemonUnreachableError(message, reason))
    }
    const timer = setTimeout(() => {
      fail(
        `cannot reach tlsmeshd at ${admin} (no answer within ${timeoutMs} ms); is it running with --admin ${admin}?`,
        'timeout',
      )
    }, timeoutMs)
    const req = request(`http://${admin}${path}`, { headers: { accept: 'application/json' } }, (response) => {
      if (response.statusCode === undefined || response.statusCode < 200 || response.statusCode > 299) {
        clearTimeout(timer)
        return fail(`tlsmeshd at ${admin} answered ${response.statusCode} for ${path}`, 'http-error')
      }
      const chunks: Buffer[] = []
      let bytes = 0
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes <= maxBytes) return void chunks.push(chunk)
        clearTimeout(timer)
        fail(`tlsmeshd at ${admin} answered ${path} with more than ${maxBytes} bytes`, 'bad-answer')
      })
      response.on('end', () => {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T)
        } catch {
          fail(`tlsmeshd at ${admin} answered ${path} with something not JSON`, 'bad-answer')
        }
      })
      response.on('error', () => undefined)
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const reason = err.code === 'ECONNREFUSED' ? 'refused' : 'network'
      fail(
        `cannot reach tlsmeshd at ${admin} (${err.code ?? err.message}); is it running with --admin ${admin}?`,
        reason,
      )
    })
    req.end()
  })
}
