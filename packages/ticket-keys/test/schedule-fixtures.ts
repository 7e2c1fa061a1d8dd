import { randomBytes } from 'node:crypto'
import { createReplicaStore, LocalSessionCache, type ReplicaStore } from '@tlsmesh/store'
import {
  createTicketKeySchedule,
  type TicketKeySchedule,
  type TicketKeyScheduleInit,
  type TicketKeysChange,
  ticketKeyContestRule,
  ticketKeyRealm,
} from '../src/index.ts'

export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 60 * MINUTE
export const REALM = 'www'
export const KEY_REALM = ticketKeyRealm(REALM)
/** The start of an hourly period, so that times read as "N minutes into the period". */
export const T0 = Math.floor(1_700_000_000_000 / HOUR) * HOUR

/** A clock the tests move by hand. */
export class Clock {
  constructor(public now = T0) {}
  readonly read = (): number => this.now
  set(time: number): void {
    this.now = time
  }
}

/**
 * Randomness with the jitter fixed (as a fraction of `proposalJitterMs`) and real key bytes: key
 * material stays unpredictable while each node's turn is known.
 */
export function fixedJitter(fraction: number): (bytes: number) => Uint8Array {
  return (bytes) => {
    if (bytes !== 4) return randomBytes(bytes)
    const out = new Uint8Array(4)
    new DataView(out.buffer).setUint32(0, Math.min(0xffff_ffff, Math.floor(fraction * 2 ** 32)))
    return out
  }
}

export interface TestNode {
  name: string
  store: ReplicaStore
  cache: LocalSessionCache
  schedule: TicketKeySchedule
  changes: TicketKeysChange[]
}

/** A node with its own replica (a mesh node's store stand-in), or on a shared one. */
export function testNode(
  name: string,
  clock: Clock,
  init: Partial<TicketKeyScheduleInit> = {},
  options: { jitter?: number; store?: ReplicaStore } = {},
): TestNode {
  // As tlsmeshd builds it: competing proposals follow the schedule's contest rule.
  const contested = { [KEY_REALM]: ticketKeyContestRule({ realm: REALM, ...init }) }
  const store = options.store ?? createReplicaStore({ realms: [REALM, KEY_REALM], contested })
  const cache = new LocalSessionCache({ store, now: clock.read, origin: name })
  const schedule = createTicketKeySchedule(
    { realm: REALM, ...init },
    { cache, now: clock.read, random: fixedJitter(options.jitter ?? 0) },
  )
  const changes: TicketKeysChange[] = []
  schedule.addEventListener('keys:changed', (event) => changes.push(event.detail))
  return { name, store, cache, schedule, changes }
}

/** What gossip or a catch-up round does: every key record of `from` offered to `to`. */
export function deliver(from: TestNode, to: TestNode, now: number): void {
  for (const record of [...from.store.entries(KEY_REALM, now)]) to.store.merge(record, now)
}

/** Names (hex) of a node's keys in `keys()` order. */
export function names(node: TestNode): string[] {
  return node.schedule.keys().map((key) => key.nameHex)
}
