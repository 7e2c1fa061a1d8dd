// Inbound connections before they prove the mesh key. libp2p refuses a newcomer once 10 connections
// are being upgraded, and gives each 10 s: twelve idle TCP connections keep every key holder out.
// Here an unproven connection is held for a short deadline, and at a cap the oldest unproven one is
// dropped instead of the newcomer, so that a key holder (which proves the key within 1.5 round trips)
// gets in however many idle connections arrived before it, even from its own address.
import { Counter, type Registry } from 'prom-client'
import { type MeshClock, realClock } from './clock.ts'
import { PRE_KEY_DEADLINE_MS, PRE_KEY_MAX_PENDING, PRE_KEY_MAX_PER_ADDRESS } from './constants.ts'

export const PRE_KEY_REFUSALS = ['address-cap', 'pending-cap', 'deadline', 'key-mismatch'] as const
/**
 * Why a connection was dropped before proving the key: pushed out by a newer one from its address or
 * in all, silent past the deadline, or its first message did not decrypt (another key).
 */
export type PreKeyRefusal = (typeof PRE_KEY_REFUSALS)[number]

export class PreKeyRefusedError extends Error {
  static override name = 'PreKeyRefusedError'
  override name = 'PreKeyRefusedError'
  readonly code: PreKeyRefusal

  constructor(code: PreKeyRefusal) {
    super(`connection dropped before proving the mesh key (${code})`)
    this.code = code
  }
}

export interface PreKeyAdmissionInit {
  deadlineMs: number
  maxPerAddress: number
  maxPending: number
}

export const DEFAULT_PRE_KEY_ADMISSION: PreKeyAdmissionInit = {
  deadlineMs: PRE_KEY_DEADLINE_MS,
  maxPerAddress: PRE_KEY_MAX_PER_ADDRESS,
  maxPending: PRE_KEY_MAX_PENDING,
}

export interface PreKeyAdmissionComponents {
  /** Default `realClock`. */
  clock?: MeshClock
}

/** One unproven connection's place; every method may be called any number of times. */
export interface PreKeyTicket {
  /** The peer proved the key: the connection leaves the unproven set. */
  proven(): void
  /** The connection closed or failed unproven; `code` counts it as a refusal. */
  release(code?: PreKeyRefusal): void
}

interface Entry {
  readonly address: string
  readonly abort: (err: Error) => void
  cancelTimer: () => void
  done: boolean
}

/**
 * IPv4 addresses as they are; IPv6 by their /64, the block one host usually gets (an attacker on
 * IPv6 would otherwise have 2^64 addresses); IPv4-mapped IPv6 as the IPv4 address.
 */
export function addressKey(host: string): string {
  if (!host.includes(':')) return host
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)
  if (mapped?.[1] !== undefined) return mapped[1]
  const [head = '', tail] = host.toLowerCase().split('%')[0]!.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`
}

/** Bounds inbound connections that have not proven the mesh key: per address, in all, and in time. */
export class PreKeyAdmission {
  readonly #init: PreKeyAdmissionInit
  readonly #clock: MeshClock
  /** Insertion order is age: the first is the oldest. */
  readonly #pending = new Set<Entry>()
  readonly #byAddress = new Map<string, Set<Entry>>()
  /** Connections dropped unproven, by reason. */
  readonly refused = new Map<PreKeyRefusal, number>()

  constructor(init: Partial<PreKeyAdmissionInit> = {}, components: PreKeyAdmissionComponents = {}) {
    this.#init = { ...DEFAULT_PRE_KEY_ADMISSION, ...init }
    for (const [field, value] of Object.entries(this.#init)) {
      if (!(Number.isSafeInteger(value) && value >= 1))
        throw new RangeError(`${field}: a whole number of at least 1`)
    }
    this.#clock = components.clock ?? realClock
  }

  /** Unproven connections held now. */
  get pending(): number {
    return this.#pending.size
  }

  /** Unproven connections held now from `host`'s address (or /64). */
  pendingFrom(host: string): number {
    return this.#byAddress.get(addressKey(host))?.size ?? 0
  }

  /**
   * Takes a new inbound connection from `host`, first dropping (through their `abort`) the oldest
   * unproven one from its address or in all if a cap is reached. `abort` is called if this one is
   * dropped in turn, or stays silent past the deadline.
   */
  admit(host: string, abort: (err: Error) => void): PreKeyTicket {
    const address = addressKey(host)
    const fromAddress = this.#byAddress.get(address)
    if (fromAddress !== undefined && fromAddress.size >= this.#init.maxPerAddress) {
      this.#refuse(fromAddress.values().next().value as Entry, 'address-cap')
    }
    if (this.#pending.size >= this.#init.maxPending) {
      this.#refuse(this.#pending.values().next().value as Entry, 'pending-cap')
    }
    const entry: Entry = { address, abort, cancelTimer: () => {}, done: false }
    this.#pending.add(entry)
    const set = this.#byAddress.get(address) ?? new Set()
    set.add(entry)
    this.#byAddress.set(address, set)
    const timer = this.#clock.setTimer(this.#init.deadlineMs, () => this.#refuse(entry, 'deadline'))
    entry.cancelTimer = () => this.#clock.clearTimer(timer)
    return {
      proven: () => this.#remove(entry),
      release: (code) => {
        if (!entry.done && code !== undefined) this.#count(code)
        this.#remove(entry)
      },
    }
  }

  #refuse(entry: Entry, code: PreKeyRefusal): void {
    if (entry.done) return
    // Removed first: the abort closes the connection, whose close handler releases the ticket.
    this.#remove(entry)
    this.#count(code)
    entry.abort(new PreKeyRefusedError(code))
  }

  #count(code: PreKeyRefusal): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1)
  }

  #remove(entry: Entry): void {
    if (entry.done) return
    entry.done = true
    entry.cancelTimer()
    this.#pending.delete(entry)
    const set = this.#byAddress.get(entry.address)
    set?.delete(entry)
    if (set?.size === 0) this.#byAddress.delete(entry.address)
  }
}

/**
 * A PreKeyAdmission whose refusals are counted in `registry` as tlsmesh_mesh_prekey_refused_total
 * by reason (every reason present from the start, at 0).
 */
export function createPreKeyAdmission(
  components: PreKeyAdmissionComponents & { registry?: Registry } = {},
  init: Partial<PreKeyAdmissionInit> = {},
): PreKeyAdmission {
  const { registry, ...rest } = components
  const admission = new PreKeyAdmission(init, rest)
  if (registry !== undefined) {
    new Counter({
      name: 'tlsmesh_mesh_prekey_refused_total',
      help: 'Inbound connections dropped before proving the mesh key, by reason (address-cap, pending-cap: pushed out by newer ones; deadline; key-mismatch)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset()
        for (const reason of PRE_KEY_REFUSALS) this.inc({ reason }, admission.refused.get(reason) ?? 0)
      },
    })
  }
  return admission
}
