import { DaemonUnreachableError, fetchStatus } from '@tlsmesh/admin-api'
import { createStyle, SCREEN, wantsColor, wantsUnicode } from './terminal-style.ts'
import { renderFrame } from './watch-frame.ts'
import { NodeTracker, type NodeView } from './watch-model.ts'

export const DEFAULT_INTERVAL_MS = 1000
export const MIN_INTERVAL_MS = 200
/** The first sample of `--once` and the second: far enough apart for a rate, short for a script. */
const ONCE_GAP_MS = 1000

export interface WatchOptions {
  admins: string[]
  once: boolean
  json: boolean
  intervalMs: number
}

export interface WatchIo {
  stdout: NodeJS.WriteStream
  stdin: NodeJS.ReadStream
  env: Record<string, string | undefined>
}

/** Exit code of `--once`: 0 every node answered, 3 none did, 1 some did not. */
export function onceExitCode(views: NodeView[]): number {
  const down = views.filter((v) => v.state !== 'up').length
  if (down === 0) return 0
  return down === views.length ? 3 : 1
}

async function pollAll(trackers: NodeTracker[], timeoutMs: number): Promise<void> {
  await Promise.all(
    trackers.map(async (tracker) => {
      try {
        const status = await fetchStatus(tracker.admin, timeoutMs)
        tracker.ok(status, Date.now())
      } catch (err) {
        const reason = err instanceof DaemonUnreachableError ? err.reason : 'network'
        const words: Record<string, string> = {
          refused: 'connection refused',
          timeout: `no answer within ${timeoutMs} ms`,
          'http-error': (err as Error).message.replace(/^tlsmeshd at \S+ /, ''),
          'bad-answer': 'answer not JSON',
          network: (err as Error).message,
        }
        tracker.failed(words[reason] ?? 'unreachable', Date.now(), reason === 'refused')
      }
    }),
  )
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })

function jsonFrame(views: NodeView[]): string {
  return JSON.stringify(
    views.map((v) => ({
      admin: v.admin,
      state: v.state,
      error: v.error ?? null,
      rates: v.rates,
      status: v.status ?? null,
    })),
  )
}

/**
 * `tlsmesh watch`: polls every admin endpoint each interval (each request bounded by the interval,
 * so one frozen node cannot stall the view) and redraws in place with plain ANSI: home, each line,
 * clear to end of line, clear below. Works over ssh and in tmux; no alternate screen, so the last
 * frame stays on the terminal after `q` or Ctrl-C.
 */
export async function runWatch(options: WatchOptions, io: WatchIo): Promise<number> {
  const trackers = options.admins.map((admin) => new NodeTracker(admin))
  const timeoutMs = Math.max(MIN_INTERVAL_MS, Math.min(options.intervalMs, 2000))
  const style = createStyle(!options.json && wantsColor(io.stdout, io.env))
  const unicode = wantsUnicode(io.env)
  const frame = (): string[] =>
    renderFrame(
      trackers.map((t) => t.view(Date.now())),
      {
        width: io.stdout.isTTY ? io.stdout.columns || 80 : 80,
        height: io.stdout.isTTY ? io.stdout.rows || 24 : 24,
        style,
        unicode,
        now: Date.now(),
        intervalMs: options.intervalMs,
      },
    )

  if (options.once) {
    const done = new AbortController()
    await pollAll(trackers, timeoutMs)
    await sleep(Math.min(options.intervalMs, ONCE_GAP_MS), done.signal)
    await pollAll(trackers, timeoutMs)
    const views = trackers.map((t) => t.view(Date.now()))
    io.stdout.write(options.json ? `${jsonFrame(views)}\n` : `${frame().join('\n')}\n`)
    return onceExitCode(views)
  }

  const stop = new AbortController()
  const live = io.stdout.isTTY === true && !options.json
  const quit = (): void => stop.abort()
  process.once('SIGINT', quit)
  process.once('SIGTERM', quit)
  const onKey = (key: Buffer): void => {
    const k = key.toString()
    if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x04') quit()
  }
  const keys = live && io.stdin.isTTY === true
  if (keys) {
    io.stdin.setRawMode(true)
    io.stdin.on('data', onKey)
    io.stdin.resume()
  }
  const draw = (): void => {
    if (options.json) {
      io.stdout.write(`${jsonFrame(trackers.map((t) => t.view(Date.now())))}\n`)
    } else if (live) {
      io.stdout.write(
        `${SCREEN.home}${frame().join(`${SCREEN.clearLine}\n`)}${SCREEN.clearLine}${SCREEN.clearBelow}`,
      )
    } else {
      io.stdout.write(`${frame().join('\n')}\n\n`)
    }
  }
  if (live) {
    io.stdout.write(`${SCREEN.clear}${SCREEN.hideCursor}`)
    io.stdout.on('resize', draw)
  }
  try {
    if (live) draw()
    while (!stop.signal.aborted) {
      const started = Date.now()
      await pollAll(trackers, timeoutMs)
      if (stop.signal.aborted) break
      draw()
      await sleep(Math.max(0, options.intervalMs - (Date.now() - started)), stop.signal)
    }
  } finally {
    process.off('SIGINT', quit)
    process.off('SIGTERM', quit)
    if (keys) {
      io.stdin.off('data', onKey)
      io.stdin.setRawMode(false)
      io.stdin.pause()
    }
    if (live) {
      io.stdout.off('resize', draw)
      io.stdout.write(`${SCREEN.showCursor}\n`)
    }
  }
  return 0
}
