import { spawn } from 'node:child_process'
import { DEFAULT_HOOK_TIMEOUT_MS, HOOK_KILL_GRACE_MS, MAX_HOOK_STDERR_BYTES } from './constants.ts'

/** How long after the shell exits its stderr may take to reach EOF. */
const STDERR_DRAIN_MS = 100

export interface RunHookOptions {
  /** Killed (SIGTERM to its process group, SIGKILL after 2 s) when it runs longer. Default 30 s. */
  timeoutMs?: number
  /** Added to the environment (e.g. the key directory and the current key's name; never a key). */
  env?: Record<string, string>
  /** Aborting kills the hook like a timeout. */
  signal?: AbortSignal
}

export interface HookResult {
  /** The exit code, or null if it was killed by a signal. */
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  durationMs: number
  /** The last `MAX_HOOK_STDERR_BYTES` of its stderr, for the log when it fails. */
  stderr: string
}

/**
 * Runs the operator's command (`--on-ticket-keys`, e.g. `nginx -s reload`) through `/bin/sh -c`, in
 * its own process group so that a timeout kills whatever it started. Resolves when the shell exits,
 * even if a child it left in the background still holds stderr; never rejects for the command's
 * failure (the result says what happened), only if it cannot be spawned at all.
 */
export function runHook(command: string, options: RunHookOptions = {}): Promise<HookResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...options.env },
    })
    let stderr = Buffer.alloc(0)
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk])
      if (stderr.byteLength > MAX_HOOK_STDERR_BYTES) stderr = stderr.subarray(-MAX_HOOK_STDERR_BYTES)
    })
    child.stderr.on('error', () => {})
    let timedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal)
      } catch {
        // Already gone.
      }
    }
    const stop = (): void => {
      if (timedOut) return
      timedOut = true
      killGroup('SIGTERM')
      killTimer = setTimeout(() => killGroup('SIGKILL'), HOOK_KILL_GRACE_MS)
      killTimer.unref()
    }
    const timer = setTimeout(stop, timeoutMs)
    timer.unref()
    options.signal?.addEventListener('abort', stop, { once: true })
    const cleanup = (): void => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', stop)
    }
    child.once('error', (err) => {
      cleanup()
      reject(err)
    })
    child.once('exit', (code, signal) => {
      // stderr may still hold the last lines (read them), or a child left in the background may keep
      // it open (do not wait for that).
      let finished = false
      const finish = (): void => {
        if (finished) return
        finished = true
        cleanup()
        child.stderr.destroy()
        resolve({
          code,
          signal,
          timedOut,
          durationMs: Math.round(performance.now() - started),
          stderr: stderr.toString('utf8'),
        })
      }
      if (child.stderr.closed) finish()
      else {
        const drain = setTimeout(finish, STDERR_DRAIN_MS)
        child.stderr.once('close', () => {
          clearTimeout(drain)
          finish()
        })
      }
    })
  })
}
