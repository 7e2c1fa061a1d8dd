/**
 * The abort signal of one sync session, and its deadlines: `stepMs` for each message (a write or a
 * read, counted from the start of the latest), `sessionMs` for the whole session, and the service's
 * shutdown. Two timers per session, restarted in place (`refresh`) at each step and cleared when the
 * session ends.
 *
 * Not AbortSignal.timeout per message: each is a timer that stays armed after the message is done,
 * and a signal kept (with the signals made from it) until that timer fires, 30 s later, and a
 * session's 10 minutes later. A node answering 260 reconciliations a second (bench/stall.ts, queries)
 * held tens of thousands of them, all surviving into the old generation.
 */
export class SessionDeadline {
  readonly #controller = new AbortController()
  readonly #shutdown: AbortSignal
  readonly #onShutdown: () => void
  readonly #stepTimer: NodeJS.Timeout
  readonly #sessionTimer: NodeJS.Timeout

  constructor(stepMs: number, sessionMs: number, shutdown: AbortSignal) {
    this.#shutdown = shutdown
    this.#onShutdown = () => this.#controller.abort(shutdown.reason)
    this.#stepTimer = setTimeout(() => this.#timedOut('a sync message'), stepMs).unref()
    this.#sessionTimer = setTimeout(() => this.#timedOut('a sync session'), sessionMs).unref()
    if (shutdown.aborted) this.#onShutdown()
    else shutdown.addEventListener('abort', this.#onShutdown, { once: true })
  }

  /** Aborted once a deadline passed, the service stopped, or the session ended. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /**
   * A message is about to be written or read: its deadline starts now. Returns the signal to pass:
   * one per step, aborted with the session, since libp2p leaves some listeners on the signals it is
   * given (an opened stream's, say) until the session is over, and they would pile up on one.
   */
  step(): AbortSignal {
    this.#stepTimer.refresh()
    return AbortSignal.any([this.#controller.signal])
  }

  /** The session is over: its timers and its listener on the shutdown signal go. */
  end(): void {
    clearTimeout(this.#stepTimer)
    clearTimeout(this.#sessionTimer)
    this.#shutdown.removeEventListener('abort', this.#onShutdown)
  }

  #timedOut(what: string): void {
    this.#controller.abort(new DOMException(`${what} timed out`, 'TimeoutError'))
  }
}
