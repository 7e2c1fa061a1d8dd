import { randomBytes } from 'node:crypto'
import {
  type ContestRule,
  DEFAULT_MAX_TTL_MS,
  isValidRealm,
  type SessionCache,
  type SessionRecord,
} from '@tlsmesh/store'
import {
  CONTEST_GRACE_MS,
  DEFAULT_DECRYPT_LIFETIME_MS,
  DEFAULT_DISTRIBUTE_AHEAD_MS,
  DEFAULT_EPOCH_MS,
  DEFAULT_JOIN_GRACE_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PROPOSAL_JITTER_MS,
  DEFAULT_ROTATION_MS,
  MAX_SUPERSEDED_KEYS,
  MIN_ROTATION_MS,
  TICKET_KEY_BYTES,
  TICKET_KEY_REALM_SUFFIX,
} from './constants.ts'
import { InvalidTicketKeyOptionError } from './errors.ts'
import { periodId, periodOfId, TicketKey } from './ticket-key.ts'
import { TypedEventTarget } from './typed-event-target.ts'

export interface TicketKeyScheduleInit {
  /** The server realm; its keys live in the realm `${realm}.tickets` (so `realm` is at most 56 characters). */
  realm: string
  /** How long each key encrypts. Default `DEFAULT_ROTATION_MS` (1 h). Same on every node. */
  rotationMs?: number
  /** How long a key still decrypts after its period. Default `DEFAULT_DECRYPT_LIFETIME_MS` (12 h). */
  decryptLifetimeMs?: number
  /**
   * How long before its period a key is proposed, at most `rotationMs`. Default
   * `DEFAULT_DISTRIBUTE_AHEAD_MS` (15 min) or a quarter of `rotationMs`, whichever is shorter.
   */
  distributeAheadMs?: number
  /**
   * Spread of proposal times across nodes, below `distributeAheadMs`. Default
   * `DEFAULT_PROPOSAL_JITTER_MS` (60 s) or a quarter of `distributeAheadMs`, whichever is shorter.
   */
  proposalJitterMs?: number
  /** How long after `start()` a node waits for its peers' keys before proposing. Default 10 s. */
  joinGraceMs?: number
  /** How often the replica is re-read. Default 1 s. */
  pollIntervalMs?: number
  /** Period 0 starts here (ms since the unix epoch). Default 0. Same on every node. */
  epochMs?: number
  /**
   * Whether this node proposes keys (default true). A node that is not among the realm's allowed
   * proposers only takes theirs: its own would be refused by every other node.
   */
  proposes?: boolean
  /**
   * The replica's TTL cap (`ReplicaStoreInit.maxTtlMs`, default 24 h): a key record lives
   * ahead + rotation + lifetime, and a store would cut a longer one short.
   */
  maxTtlMs?: number
}

/** `TicketKeyScheduleInit` with the defaults applied. */
export type TicketKeyScheduleOptions = Readonly<Required<TicketKeyScheduleInit>>

export interface TicketKeyScheduleComponents {
  /** The mesh's replicated cache (keys travel as records), or a `LocalSessionCache`. */
  cache: SessionCache
  /** Default `Date.now`. */
  now?: () => number
  /** Default `crypto.randomBytes` (a CSPRNG): key material and proposal jitter. */
  random?: (bytes: number) => Uint8Array
  /** Called when reading or proposing a key throws (e.g. the cache does not serve the key realm). */
  onError?: (err: unknown) => void
}

export interface TicketKeysChange {
  /** The key that encrypts now, if any. */
  current: TicketKey | undefined
  /** As `keys()`: the encrypting key first, then the ones that only decrypt. */
  keys: readonly TicketKey[]
  /** Whether the encrypting key changed: a rotation, a first key, or a replaced one. */
  currentChanged: boolean
}

/** Event name -> `detail`: listeners receive a `CustomEvent` of it. */
export interface TicketKeyScheduleEvents {
  'keys:changed': TicketKeysChange
}

/** For `tlsmesh status`: names (public: every ticket carries one) and times, never key bytes. */
export interface TicketKeyStatus {
  realm: string
  keyRealm: string
  started: boolean
  ready: boolean
  /** Keys installed: `keys().length`. */
  held: number
  current: { name: string; period: number; ageMs: number; origin: string } | null
  next: { name: string; period: number; startsInMs: number } | null
  rotationMs: number
  decryptLifetimeMs: number
  /** Since start: keys this node proposed. */
  proposed: number
  /** Since start: times the encrypting key changed (a new period, the first key, a replaced one). */
  rotations: number
  /** Since start: held keys replaced by a proposal that won the merge (a race, a healed partition). */
  replaced: number
  /** Key records of the wrong size in the window read at the last refresh (a peer's bug): ignored. */
  invalidRecords: number
  errors: number
}

/** The key realm of a server realm. */
export function ticketKeyRealm(realm: string): string {
  return `${realm}${TICKET_KEY_REALM_SUFFIX}`
}

/**
 * Generates, shares and retires the TLS session ticket keys of one realm over a `SessionCache`.
 *
 * Time is cut into periods of `rotationMs` from `epochMs`; period k's key is the record
 * (`R.tickets`, k as 8 bytes big-endian) holding 80 random bytes, created when proposed and expiring
 * when the key stops decrypting. It encrypts during period k and decrypts from the moment it is held
 * (so a server whose clock runs ahead may already use it) until `decryptLifetimeMs` after period k.
 *
 * A node proposes a key for a period only if it holds none when its turn comes: `distributeAheadMs`
 * before the period starts plus a random jitter, and never within `joinGraceMs` of its own start (its
 * peers' keys may still be on their way). If two nodes propose for one period, the replica's merge
 * rule (newer `created` wins, ties by origin) makes every node end up with the same winner, whatever
 * order the records arrive in. A node keeps a key it saw replaced for decryption (a server may have
 * encrypted with it), up to `MAX_SUPERSEDED_KEYS`.
 */
export class TicketKeySchedule extends TypedEventTarget<TicketKeyScheduleEvents> {
  readonly realm: string
  readonly keyRealm: string
  readonly options: TicketKeyScheduleOptions
  /** The most keys `keys()` returns: current, next, old ones still decrypting, superseded ones. */
  readonly maxKeys: number

  readonly #cache: SessionCache
  readonly #now: () => number
  readonly #random: (bytes: number) => Uint8Array
  readonly #onError: ((err: unknown) => void) | undefined
  /** How many periods before the current one may still hold a decrypting key. */
  readonly #lookback: number

  /** Keys read at the last refresh, by period. */
  #held = new Map<number, TicketKey>()
  #superseded: TicketKey[] = []
  #keys: readonly TicketKey[] = []
  #current: TicketKey | undefined
  /** Names and periods of `#keys`: a change is announced when this changes. */
  #signature = ''
  /** Each period's proposal jitter, drawn once, so that a node's turn does not move between polls. */
  readonly #jitter = new Map<number, number>()
  #startedAt: number | undefined
  #timer: NodeJS.Timeout | undefined
  #unlistenAbort: (() => void) | undefined
  #proposed = 0
  #rotations = 0
  #replaced = 0
  #invalidRecords = 0
  #errors = 0

  constructor(init: TicketKeyScheduleInit, components: TicketKeyScheduleComponents) {
    super()
    this.options = resolveOptions(init)
    this.realm = init.realm
    this.keyRealm = ticketKeyRealm(init.realm)
    this.#cache = components.cache
    this.#now = components.now ?? (() => Date.now())
    this.#random = components.random ?? randomBytes
    this.#onError = components.onError
    this.#lookback = Math.ceil(this.options.decryptLifetimeMs / this.options.rotationMs)
    this.maxKeys = 2 + this.#lookback + MAX_SUPERSEDED_KEYS
  }

  /** Reads the replica, proposes what is due, and keeps doing so on a timer (unref'd) until `stop()`. */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#startedAt !== undefined) return
    const { signal } = options
    if (signal?.aborted === true) return
    if (this.#now() < this.options.epochMs) {
      throw new InvalidTicketKeyOptionError('epochMs: must not be in the future')
    }
    this.#startedAt = this.#now()
    if (signal !== undefined) {
      const onAbort = (): void => void this.stop()
      signal.addEventListener('abort', onAbort, { once: true })
      this.#unlistenAbort = () => signal.removeEventListener('abort', onAbort)
    }
    this.refresh()
  }

  /** Stops the timer and proposing. The keys held stay readable (a server keeps what it installed). */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#startedAt = undefined
    this.#unlistenAbort?.()
    this.#unlistenAbort = undefined
  }

  /** The key that encrypts now (as of the last refresh), if held. */
  current(): TicketKey | undefined {
    return this.#current
  }

  /** The key of the next period, if already distributed. */
  next(): TicketKey | undefined {
    return this.#current === undefined ? undefined : this.#held.get(this.#current.period + 1)
  }

  /**
   * The keys to install: the current one first (it encrypts), then the next one (a server whose clock
   * is ahead may already encrypt with it), then older ones still within their decrypt lifetime, newest
   * first, then superseded ones. Empty while no current key is held: a server must not encrypt with
   * an old key.
   */
  keys(): readonly TicketKey[] {
    return this.#keys
  }

  /**
   * Holds the current key and, once it is due (the proposal window has passed), the next one: what a
   * joining node waits for before it reports ready. Until then its servers do full handshakes.
   * Judged by the clock and the keys held, not by the last `refresh`: at a period's start, the key
   * distributed ahead for it is current before the rotation's timer has run.
   */
  ready(): boolean {
    const now = this.#now()
    const period = this.periodAt(now)
    if (!this.#held.has(period)) return false
    if (this.#held.has(period + 1)) return true
    return now < this.periodStart(period + 1) - this.options.distributeAheadMs + this.options.proposalJitterMs
  }

  status(): TicketKeyStatus {
    const now = this.#now()
    const current = this.#current
    const next = this.next()
    return {
      realm: this.realm,
      keyRealm: this.keyRealm,
      started: this.#startedAt !== undefined,
      ready: this.ready(),
      held: this.#keys.length,
      current:
        current === undefined
          ? null
          : {
              name: current.nameHex,
              period: current.period,
              ageMs: now - current.encryptFrom,
              origin: current.origin,
            },
      next:
        next === undefined
          ? null
          : { name: next.nameHex, period: next.period, startsInMs: next.encryptFrom - now },
      rotationMs: this.options.rotationMs,
      decryptLifetimeMs: this.options.decryptLifetimeMs,
      proposed: this.#proposed,
      rotations: this.#rotations,
      replaced: this.#replaced,
      invalidRecords: this.#invalidRecords,
      errors: this.#errors,
    }
  }

  /** The period that `time` falls in. */
  periodAt(time: number): number {
    return Math.floor((time - this.options.epochMs) / this.options.rotationMs)
  }

  /** When period `period` starts encrypting. */
  periodStart(period: number): number {
    return this.options.epochMs + period * this.options.rotationMs
  }

  /**
   * Re-reads the replica now, proposes what is due (when started), retires expired keys and emits
   * `keys:changed` if the installed set changed. Polled every `pollIntervalMs` and at every rotation;
   * call it when key records arrive to notice them at once.
   */
  refresh(): void {
    const now = this.#now()
    const period = this.periodAt(now)
    const held = new Map<number, TicketKey>()
    let invalid = 0
    for (let p = Math.max(0, period - this.#lookback); p <= period + 1; p++) {
      const key = this.#read(p, now)
      if (key === 'invalid') invalid++
      else if (key !== undefined) held.set(p, key)
    }
    this.#invalidRecords = invalid
    if (this.#startedAt !== undefined) {
      for (const p of [period, period + 1]) {
        if (!this.options.proposes || held.has(p) || now < this.#proposeAt(p)) continue
        const key = this.#propose(p, now)
        if (key !== undefined) held.set(p, key)
      }
    }
    for (const [p, before] of this.#held) {
      const after = held.get(p)
      if (after === undefined || after.sameKey(before)) continue
      this.#replaced++
      this.#superseded.push(before)
    }
    this.#superseded = this.#superseded
      .filter((key) => key.decryptUntil > now && ![...held.values()].some((h) => h.sameKey(key)))
      .slice(-MAX_SUPERSEDED_KEYS)
    this.#held = held
    for (const p of this.#jitter.keys()) if (p < period) this.#jitter.delete(p)

    const previous = this.#current
    const current = held.get(period)
    this.#current = current
    this.#keys = current === undefined ? [] : this.#ordered(current)
    const signature = this.#keys.map((key) => `${key.period}:${key.nameHex}`).join(',')
    if (signature !== this.#signature) {
      this.#signature = signature
      const currentChanged =
        previous === undefined || current === undefined ? previous !== current : !previous.sameKey(current)
      if (currentChanged && current !== undefined) this.#rotations++
      this.emit('keys:changed', { current, keys: this.#keys, currentChanged })
    }
    this.#schedule(now, period)
  }

  #ordered(current: TicketKey): TicketKey[] {
    const keys = [current]
    const next = this.#held.get(current.period + 1)
    if (next !== undefined) keys.push(next)
    const older = [...this.#held.values()].filter((key) => key.period < current.period)
    older.sort((a, b) => b.period - a.period)
    keys.push(...older, ...this.#superseded)
    return keys
  }

  #read(period: number, now: number): TicketKey | 'invalid' | undefined {
    let record: SessionRecord | undefined
    try {
      record = this.#cache.get(this.keyRealm, periodId(period))
    } catch (err) {
      this.#fail(err)
      return undefined
    }
    if (record?.value === undefined) return undefined
    if (record.value.byteLength !== TICKET_KEY_BYTES) return 'invalid'
    const decryptUntil = this.#decryptUntil(period)
    if (now >= decryptUntil) return undefined
    const known = this.#held.get(period)
    if (known !== undefined && known.created === record.created && known.origin === record.origin)
      return known
    return new TicketKey({
      period,
      material: Uint8Array.from(record.value),
      encryptFrom: this.periodStart(period),
      encryptUntil: this.periodStart(period + 1),
      decryptUntil,
      created: record.created,
      origin: record.origin,
    })
  }

  #propose(period: number, now: number): TicketKey | undefined {
    try {
      const material = this.#random(TICKET_KEY_BYTES)
      if (material.byteLength !== TICKET_KEY_BYTES) throw new RangeError('random: returned the wrong size')
      const decryptUntil = this.#decryptUntil(period)
      const record = this.#cache.set(this.keyRealm, periodId(period), material, decryptUntil - now)
      this.#proposed++
      return new TicketKey({
        period,
        material: Uint8Array.from(material),
        encryptFrom: this.periodStart(period),
        encryptUntil: this.periodStart(period + 1),
        decryptUntil,
        created: record.created,
        origin: record.origin,
      })
    } catch (err) {
      this.#fail(err)
      return undefined
    }
  }

  /** This node's turn to propose for `period`, if it still holds no key then. */
  #proposeAt(period: number): number {
    const opens = this.periodStart(period) - this.options.distributeAheadMs
    const afterGrace = (this.#startedAt ?? 0) + this.options.joinGraceMs
    return Math.max(opens, afterGrace) + this.#jitterOf(period)
  }

  #jitterOf(period: number): number {
    let jitter = this.#jitter.get(period)
    if (jitter === undefined) {
      const bytes = this.#random(4)
      const fraction = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) / 2 ** 32
      jitter = Math.floor(fraction * this.options.proposalJitterMs)
      this.#jitter.set(period, jitter)
    }
    return jitter
  }

  #decryptUntil(period: number): number {
    return this.periodStart(period + 1) + this.options.decryptLifetimeMs
  }

  /** Wakes at the next thing due: a rotation, a proposal turn, a key's retirement, or the poll. */
  #schedule(now: number, period: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#startedAt === undefined) return
    const due = [now + this.options.pollIntervalMs, this.periodStart(period + 1)]
    for (const p of [period, period + 1]) if (!this.#held.has(p)) due.push(this.#proposeAt(p))
    for (const key of this.#keys) due.push(key.decryptUntil)
    const at = Math.min(...due.filter((t) => t > now))
    this.#timer = setTimeout(() => this.refresh(), at - now)
    this.#timer.unref()
  }

  #fail(err: unknown): void {
    this.#errors++
    this.#onError?.(err)
  }
}

export function createTicketKeySchedule(
  init: TicketKeyScheduleInit,
  components: TicketKeyScheduleComponents,
): TicketKeySchedule {
  return new TicketKeySchedule(init, components)
}

/**
 * The longest a key record of this schedule lives, `distributeAheadMs + rotationMs +
 * decryptLifetimeMs` with the defaults applied: the replica's TTL cap (`maxTtlMs`) must allow it on
 * every node, or key records are cut short or refused. Checks `init` as `createTicketKeySchedule`
 * does, ignoring `maxTtlMs`; throws `InvalidTicketKeyOptionError` naming the field.
 */
export function ticketKeyRecordTtlMs(init: TicketKeyScheduleInit): number {
  const options = resolveOptions({ ...init, maxTtlMs: Number.MAX_SAFE_INTEGER })
  return options.distributeAheadMs + options.rotationMs + options.decryptLifetimeMs
}

/**
 * The replica's rule for competing proposals in this schedule's key realm (`contested` in
 * `ReplicaStoreInit`): a newer proposal of another node replaces the key of a period that has not
 * started, so that every node settles on one winner; the key of a period that has started is never
 * replaced (it may already encrypt tickets, and a key holder must not swap it under the fleet),
 * except within `CONTEST_GRACE_MS` (or `distributeAheadMs`, if shorter) of its making: a fleet's
 * first keys are proposed for a period under way, and two made at once must still settle on one.
 */
export function ticketKeyContestRule(init: TicketKeyScheduleInit): ContestRule {
  const options = resolveOptions({ ...init, maxTtlMs: Number.MAX_SAFE_INTEGER })
  const { epochMs, rotationMs } = options
  const grace = Math.min(CONTEST_GRACE_MS, options.distributeAheadMs)
  return (existing, _incoming, now) => {
    const period = periodOfId(existing.id)
    if (period === undefined) return false
    return now < Math.max(epochMs + period * rotationMs, existing.created + grace)
  }
}

function resolveOptions(init: TicketKeyScheduleInit): TicketKeyScheduleOptions {
  if (!isValidRealm(init.realm) || !isValidRealm(ticketKeyRealm(init.realm))) {
    throw new InvalidTicketKeyOptionError(
      `realm: 1-${64 - TICKET_KEY_REALM_SUFFIX.length} characters of A-Z a-z 0-9 . _ - (the key realm adds ${TICKET_KEY_REALM_SUFFIX})`,
    )
  }
  const rotationMs = integer('rotationMs', init.rotationMs ?? DEFAULT_ROTATION_MS, MIN_ROTATION_MS)
  const options: TicketKeyScheduleOptions = {
    realm: init.realm,
    rotationMs,
    decryptLifetimeMs: integer('decryptLifetimeMs', init.decryptLifetimeMs ?? DEFAULT_DECRYPT_LIFETIME_MS, 0),
    distributeAheadMs: integer(
      'distributeAheadMs',
      init.distributeAheadMs ?? Math.min(DEFAULT_DISTRIBUTE_AHEAD_MS, Math.floor(rotationMs / 4)),
      1,
      rotationMs,
    ),
    proposalJitterMs: 0,
    joinGraceMs: integer('joinGraceMs', init.joinGraceMs ?? DEFAULT_JOIN_GRACE_MS, 0),
    pollIntervalMs: integer('pollIntervalMs', init.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, 1),
    epochMs: integer('epochMs', init.epochMs ?? DEFAULT_EPOCH_MS, 0),
    proposes: init.proposes ?? true,
    maxTtlMs: integer('maxTtlMs', init.maxTtlMs ?? DEFAULT_MAX_TTL_MS, 1),
  }
  const jitter = integer(
    'proposalJitterMs',
    init.proposalJitterMs ?? Math.min(DEFAULT_PROPOSAL_JITTER_MS, Math.floor(options.distributeAheadMs / 4)),
    0,
  )
  if (jitter >= options.distributeAheadMs) {
    throw new InvalidTicketKeyOptionError(
      `proposalJitterMs: must be below distributeAheadMs (${options.distributeAheadMs}), got ${jitter}`,
    )
  }
  const life = options.distributeAheadMs + options.rotationMs + options.decryptLifetimeMs
  if (life > options.maxTtlMs) {
    throw new InvalidTicketKeyOptionError(
      `decryptLifetimeMs: distributeAheadMs + rotationMs + decryptLifetimeMs (${life}) is over the store's maxTtlMs (${options.maxTtlMs})`,
    )
  }
  return { ...options, proposalJitterMs: jitter }
}

function integer(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`
    throw new InvalidTicketKeyOptionError(`${field}: expected an integer ${range}, got ${value}`)
  }
  return value
}
