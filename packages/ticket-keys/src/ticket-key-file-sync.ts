import type { Logger } from '@tlsmesh/store'
import { FILE_WRITE_RETRY_MS } from './constants.ts'
import { type TicketKeyFileFormat, writeTicketKeyFiles } from './ticket-key-files.ts'
import type { HookResult } from './ticket-key-hook.ts'
import { runHook } from './ticket-key-hook.ts'
import type { TicketKeySchedule } from './ticket-key-schedule.ts'

export interface TicketKeyFilesInit {
  /** `--ticket-keys-dir`: the operator's directory (tmpfs, 0700). */
  dir: string
  /** `--ticket-keys-format`. */
  format: TicketKeyFileFormat
  /** nginx: how many key files the configuration names. Default the schedule's `maxKeys`. */
  slots?: number
  /** `--on-ticket-keys`: run through `/bin/sh -c` after each write, e.g. `nginx -s reload`. */
  hook?: string
  hookTimeoutMs?: number
  /** After a failed write, how long until it is tried again. Default `FILE_WRITE_RETRY_MS`. */
  retryMs?: number
}

export interface TicketKeyFilesComponents {
  /** Given key names and counts, never key bytes. */
  logger?: Logger
  /** Default `Date.now`: stamps `lastWriteAt`. */
  now?: () => number
}

export interface TicketKeyFilesStats {
  writes: number
  writeErrors: number
  /** The name (hex) of the encrypting key at the last successful write; null before the first. */
  current: string | null
  /** When the last successful write finished (ms since the epoch). */
  lastWriteAt: number | null
  /** Why the last write failed (a file system error, with paths, never key bytes); null once one succeeds. */
  lastWriteError: string | null
  hookRuns: number
  /** Hooks that exited non-zero, were killed or timed out. */
  hookFailures: number
  lastHook: Omit<HookResult, 'stderr'> | null
}

export interface AttachedTicketKeyFiles {
  readonly stats: TicketKeyFilesStats
  /** nginx: how many slot files are written (the `ssl_session_ticket_key` lines to configure). */
  readonly slots: number
  /** Writes the schedule's keys now (if changed since the last write) and runs the hook; resolves after. */
  sync(): Promise<void>
  /** Stops following the schedule and waits for a write or hook in progress. */
  detach(): Promise<void>
}

/**
 * Keeps `dir` in step with the schedule for nginx or HAProxy: at each `keys:changed` (and once at
 * attach) it writes the key files, then runs the hook. Writes never overlap: changes that arrive
 * during a write or a hook are folded into one more write of the latest keys after it. A failed
 * write is tried again after `retryMs`: the next change may be an hour away, and meanwhile the
 * server would keep keys the fleet has rotated past.
 */
export function attachTicketKeyFiles(
  schedule: TicketKeySchedule,
  init: TicketKeyFilesInit,
  components: TicketKeyFilesComponents = {},
): AttachedTicketKeyFiles {
  const { logger } = components
  const now = components.now ?? Date.now
  const slots = init.slots ?? schedule.maxKeys
  const retryMs = init.retryMs ?? FILE_WRITE_RETRY_MS
  const stats: TicketKeyFilesStats = {
    writes: 0,
    writeErrors: 0,
    current: null,
    lastWriteAt: null,
    lastWriteError: null,
    hookRuns: 0,
    hookFailures: 0,
    lastHook: null,
  }
  let written = ''
  let chain: Promise<void> = Promise.resolve()
  let queued = false
  let detached = false
  let retryTimer: NodeJS.Timeout | undefined

  const writeOnce = async (): Promise<void> => {
    const keys = schedule.keys()
    const current = keys[0]
    if (current === undefined) return
    const signature = keys.map((key) => `${key.period}:${key.nameHex}`).join(',')
    if (signature === written) return
    try {
      const result = await writeTicketKeyFiles(
        init.dir,
        keys,
        init.format === 'nginx' ? { format: 'nginx', slots } : { format: 'haproxy' },
      )
      written = signature
      stats.writes++
      stats.current = current.nameHex
      stats.lastWriteAt = now()
      stats.lastWriteError = null
      logger?.info(
        {
          dir: init.dir,
          format: init.format,
          keys: keys.length,
          files: result.files.length,
          removed: result.removed.length,
          dropped: result.dropped,
          current: current.nameHex,
          period: current.period,
        },
        'ticket key files written',
      )
    } catch (err) {
      stats.writeErrors++
      stats.lastWriteError = (err as Error).message
      logger?.warn(
        { dir: init.dir, err: (err as Error).message, retryInMs: retryMs },
        'writing ticket key files failed',
      )
      if (!detached && retryTimer === undefined) {
        retryTimer = setTimeout(() => {
          retryTimer = undefined
          if (!detached) void sync()
        }, retryMs)
        retryTimer.unref()
      }
      return
    }
    if (init.hook === undefined) return
    stats.hookRuns++
    try {
      const { stderr, ...result } = await runHook(init.hook, {
        ...(init.hookTimeoutMs !== undefined ? { timeoutMs: init.hookTimeoutMs } : {}),
        env: {
          TLSMESH_TICKET_KEYS_DIR: init.dir,
          TLSMESH_TICKET_KEYS_FORMAT: init.format,
          TLSMESH_TICKET_KEY_NAME: current.nameHex,
        },
      })
      stats.lastHook = result
      if (result.code === 0) logger?.info(result, 'ticket key hook ran')
      else {
        stats.hookFailures++
        logger?.warn({ ...result, stderr }, 'ticket key hook failed')
      }
    } catch (err) {
      stats.hookFailures++
      logger?.warn({ err: (err as Error).message }, 'ticket key hook could not be started')
    }
  }

  const sync = (): Promise<void> => {
    // A run already waiting will read the latest keys when its turn comes.
    if (queued) return chain
    queued = true
    chain = chain.then(() => {
      queued = false
      return writeOnce()
    })
    return chain
  }

  const onChanged = (): void => {
    void sync()
  }
  schedule.addEventListener('keys:changed', onChanged)
  void sync()

  return {
    stats,
    slots,
    sync,
    async detach() {
      detached = true
      if (retryTimer !== undefined) clearTimeout(retryTimer)
      retryTimer = undefined
      schedule.removeEventListener('keys:changed', onChanged)
      await chain
    },
  }
}
