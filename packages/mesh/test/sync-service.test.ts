import { MessageChannel, type MessagePort } from 'node:worker_threads'
import type { Connection, PeerId, StreamHandler } from '@libp2p/interface'
import { lpStream, streamPair } from '@libp2p/utils'
import { createReplicaStore, type MergeOutcome, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import {
  DEFAULT_SYNC_LIMITS,
  decodeSyncMessage,
  encodeSyncMessage,
  SyncKind,
  type SyncMessage,
  SyncProofTable,
} from '@tlsmesh/wire'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type MeshClock, realClock } from '../src/clock.ts'
import type { RecordRefusal } from '../src/errors.ts'
import { ManualClock } from '../src/manual-clock.ts'
import type { NetworkComponents } from '../src/network-components.ts'
import { RealmDigest } from '../src/sync/realm-digest.ts'
import { RealmDigests } from '../src/sync/realm-digests.ts'
import { SyncReplicaClient, serveSyncReplica } from '../src/sync/replica-port.ts'
import {
  answerQuery,
  answerRecords,
  ListedRanges,
  type ReconciliationSide,
  RecordPage,
  reconcile,
} from '../src/sync/set-reconciliation.ts'
import { SPREAD_MIN_AGE_MS, SyncReplica, type SyncReplicaSessions } from '../src/sync/sync-replica.ts'
import { SYNC_PROTOCOL, SyncService, type SyncServiceInit } from '../src/sync/sync-service.ts'
import { countTurns } from './loop-turns.ts'
import {
  createSigner,
  forger,
  publishedRecords,
  type Signer,
  sessionRecord,
  signRecords,
} from './signed-records.ts'

// SyncService's record checks, run through its own dialing and serving over in-memory libp2p
// streams: honest nodes against a peer that answers or pushes records it has no business sending.

const REALM = 'web'
const NOW = 1_800_000_000_000
const DAY_MS = 24 * 3600_000
/** Longer than any test: only a test's own clock reaches it. */
const INTERVAL_MS = 60_000

/** Honest nodes: the one under test, a peer, a third origin whose records are relayed; the attacker. */
let victim: Signer
let peer: Signer
let third: Signer
let attacker: Signer
beforeAll(async () => {
  ;[victim, peer, third, attacker] = await Promise.all([
    createSigner(),
    createSigner(),
    createSigner(),
    createSigner(),
  ])
})

/**
 * libp2p at the sync service's edge: `openStream` opens a real libp2p stream pair to the handler
 * that the dialed peer registered, and tells it who dialed.
 */
class Network {
  readonly #handlers = new Map<string, StreamHandler>()
  readonly #protocol: string

  /** `protocol`: what every stream negotiates (the current sync protocol unless said otherwise). */
  constructor(protocol = SYNC_PROTOCOL) {
    this.#protocol = protocol
  }

  /** `peers`: whom this node holds connections to (none by default: only explicit syncWith calls). */
  edge(self: PeerId, peers: PeerId[] = []): NetworkComponents {
    const handlers = this.#handlers
    const protocol = this.#protocol
    return {
      peerId: self,
      registrar: {
        handle: async (_protocol: string, handler: StreamHandler) => {
          handlers.set(self.toString(), handler)
        },
        unhandle: async () => {
          handlers.delete(self.toString())
        },
      },
      events: new EventTarget() as NetworkComponents['events'],
      connectionManager: {
        getConnections: (remote?: PeerId) =>
          peers
            .filter((p) => remote === undefined || p.equals(remote))
            .map((remotePeer) => ({ remotePeer, status: 'open' }) as Connection),
        openStream: async (remote) => {
          const handler = handlers.get(remote.toString())
          if (handler === undefined) throw new Error('no such peer')
          const [outbound, inbound] = await streamPair({ protocol })
          // What libp2p sets on both ends once the protocol is negotiated.
          outbound.protocol = protocol
          inbound.protocol = protocol
          void handler(inbound, { remotePeer: self } as Connection)
          return outbound
        },
      },
    }
  }

  /** Registers a raw handler for `self`: what a peer that does not run SyncService answers with. */
  handle(self: PeerId, handler: StreamHandler): void {
    this.#handlers.set(self.toString(), handler)
  }
}

interface Node {
  store: ReplicaStore
  service: SyncService
  penalized: Array<[string, RecordRefusal]>
  refused: Array<[RecordRefusal, number]>
  merged: MergeOutcome[]
}

const running: Array<{ service: SyncService; digests: RealmDigests }> = []
const ports: MessagePort[] = []
afterEach(async () => {
  for (const { service, digests } of running.splice(0)) {
    await service.stop()
    digests.stop()
  }
  for (const port of ports.splice(0)) port.close()
})

/** Whether nodes reach their replica side through a message port. */
let replicaBehindPort = false

function replicaSessions(replica: SyncReplica): SyncReplicaSessions {
  if (!replicaBehindPort) return replica
  const { port1, port2 } = new MessageChannel()
  ports.push(port1, port2)
  serveSyncReplica(replica, port1, DEFAULT_SYNC_LIMITS)
  return new SyncReplicaClient(port2, DEFAULT_SYNC_LIMITS)
}

async function startNode(
  net: Network,
  identity: Signer,
  originAllowed: (origin: string) => boolean = () => true,
  connectedTo: Signer[] = [],
  clock: MeshClock = { ...realClock, now: () => NOW },
  init: Partial<SyncServiceInit> = {},
): Promise<Node> {
  const store = createReplicaStore({ realms: [REALM] })
  const node: Omit<Node, 'service'> = { store, penalized: [], refused: [], merged: [] }
  const digests = new RealmDigests([REALM], { store, now: () => NOW })
  const service = new SyncService(
    { realms: [REALM], intervalMs: INTERVAL_MS, timeoutMs: 5000, ...init },
    {
      ...net.edge(
        identity.peerId,
        connectedTo.map((s) => s.peerId),
      ),
      replica: replicaSessions(
        new SyncReplica({
          store,
          digests,
          now: () => clock.now(),
          originAllowed,
          onMerged: (outcome) => node.merged.push(outcome),
          onRefused: (reason, records) => node.refused.push([reason, records]),
        }),
      ),
      clock,
      auth: identity.auth,
      onRefused: (reason, records) => node.refused.push([reason, records]),
      penalize: (who, reason) => node.penalized.push([who, reason]),
    },
  )
  digests.start()
  await service.start()
  running.push({ service, digests })
  return { ...node, service }
}

/**
 * Opens a reconciliation from `from` to `to` (`to`'s SyncService serves it), sends its first query and
 * reads the answer; the session stays open for the caller.
 */
async function openSession(net: Network, from: Signer, to: Signer) {
  const stream = await net.edge(from.peerId).connectionManager.openStream(to.peerId, SYNC_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(
    encodeSyncMessage(syncMessage(SyncKind.QUERY, [{ depth: 0, prefix: 0n, fingerprint: 1n, count: 1 }])),
  )
  expect(decodeSyncMessage((await lp.read()).subarray()).kind).toBe(SyncKind.ANSWER)
  return lp
}

/** A message of `kind` in REALM carrying `ranges` and nothing else. */
const syncMessage = (kind: SyncKind, ranges: SyncMessage['ranges'] = []): SyncMessage => ({
  kind,
  realm: REALM,
  ranges,
  records: [],
  proofs: [],
  wanted: [],
})

/** A record claiming `peer` as its origin, unsigned. */
const record = (fields: Partial<SessionRecord> = {}): SessionRecord =>
  sessionRecord(NOW, { realm: REALM, origin: peer.origin, ...fields })

/** `n` records of `signer`, as its batches published them (with their proofs). */
const published = (signer: Signer, n: number, fields: Partial<SessionRecord> = {}): SessionRecord[] =>
  publishedRecords(signer, NOW, n, { realm: REALM, ...fields })

/**
 * A peer that answers reconciliations from `store` as the protocol does (a replica takes whatever it
 * is given: it never reads proofs), then edits each RECORDS reply with `tamper`.
 */
function serveFrom(
  net: Network,
  self: Signer,
  store: ReplicaStore,
  tamper: (reply: SyncMessage) => SyncMessage = (reply) => reply,
  sent?: SyncProofTable,
): void {
  net.handle(self.peerId, async (stream) => {
    const lp = lpStream(stream)
    const side: ReconciliationSide = {
      realm: REALM,
      digest: new RealmDigest(store.entries(REALM, NOW)),
      listed: new ListedRanges(),
      receive: () => {},
    }
    try {
      for (;;) {
        const message = decodeSyncMessage((await lp.read()).subarray())
        if (message.kind === SyncKind.DONE) break
        const reply =
          message.kind === SyncKind.QUERY ? answerQuery(side, message) : tamper(answerRecords(side, message))
        await lp.write(encodeSyncMessage(reply, sent))
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

/** A store holding `records` as they are, whatever their proofs say. */
function storeOf(records: SessionRecord[]): ReplicaStore {
  const store = createReplicaStore({ realms: [REALM] })
  for (const r of records) store.merge(r, NOW)
  return store
}

/** What (realm, id) holds in `store`, in a form to compare. */
function heldIn(store: ReplicaStore, id: Uint8Array) {
  const r = store.peek(REALM, id, NOW)
  return r && { created: r.created, expires: r.expires, origin: r.origin, value: r.value && [...r.value] }
}

/** Expects `node`'s reconciliation with `from` to fail, `from` struck for `reason`, and nothing stored. */
async function expectRefused(node: Node, from: Signer, reason: RecordRefusal): Promise<void> {
  const entries = node.store.stats().entries
  expect(await node.service.syncWith(from.peerId)).toBe(false)
  expect(node.penalized).toEqual([[from.origin, reason]])
  expect(node.refused.map(([r]) => r)).toEqual([reason])
  expect(node.merged).toEqual([])
  expect(node.store.stats().entries).toBe(entries)
  expect(node.service.stats).toMatchObject({ failed: 1, succeeded: 0, recordsPulled: 0 })
}

/**
 * Every case runs twice: with the replica side in the transport's thread, and behind a message port
 * (what a transport on a worker thread has), where every message crosses packed.
 */
describe.each([
  ['in the same thread', false],
  ['behind a port', true],
])('the replica side %s', (_where, behindPort) => {
  beforeAll(() => {
    replicaBehindPort = behindPort
  })
  suites()
})

function suites(): void {
  describe('SyncService: what a peer answers with', () => {
    it("stores a third origin's records relayed by a peer, keeps their proofs, and relays them on", async () => {
      const net = new Network()
      const own = published(peer, 3)
      const relayed = published(third, 4)
      const holder = await startNode(net, peer)
      for (const r of [...own, ...relayed]) holder.store.merge(r, NOW)
      const v = await startNode(net, victim)

      expect(await v.service.syncWith(peer.peerId)).toBe(true)
      expect(v.penalized).toEqual([])
      expect(v.merged).toEqual(Array(7).fill('added'))
      for (const r of relayed) {
        expect(v.store.peek(REALM, r.id, NOW)).toMatchObject({ origin: third.origin, value: r.value })
        // The proof is the third origin's, as it signed it: what the next relay sends along.
        expect(v.store.peek(REALM, r.id, NOW)?.proof).toEqual(r.proof)
      }

      const next = await startNode(net, attacker)
      expect(await next.service.syncWith(victim.peerId)).toBe(true)
      expect(next.store.stats().entries).toBe(7)
      expect(next.store.peek(REALM, relayed[0]!.id, NOW)?.proof).toEqual(relayed[0]!.proof)
    })

    it('ends the reconciliation on a record it did not ask for, and stores nothing of it', async () => {
      const net = new Network()
      const [wanted] = published(peer, 1)
      const [slipped] = published(attacker, 1)
      // The victim asks for `wanted`; the answer carries a validly signed record of a key it never named.
      serveFrom(net, attacker, storeOf([wanted!]), (reply) => {
        const page = new RecordPage()
        page.add(slipped!)
        return { ...reply, records: page.records, proofs: page.proofs }
      })
      const v = await startNode(net, victim)
      await expectRefused(v, attacker, 'unrequested')
      expect(v.store.peek(REALM, slipped!.id, NOW)).toBeUndefined()
    })

    it('ends it on a proof signed by another key than its origin', async () => {
      const net = new Network()
      const fake = record()
      const { proof } = forger(attacker, peer.origin).sign(REALM, [fake])
      serveFrom(net, attacker, storeOf([{ ...fake, proof }]))
      const v = await startNode(net, victim)
      await expectRefused(v, attacker, 'forged')
    })

    it.each<[string, (r: SessionRecord) => SessionRecord, boolean]>([
      ['with its value changed', (r) => ({ ...r, value: new Uint8Array(64) }), false],
      ['with its expiry stretched to 24 h', (r) => ({ ...r, expires: r.created + DAY_MS }), false],
      ['made a tombstone', ({ value: _value, ...r }) => ({ ...r, created: r.created + 1 }), true],
      ['with its created bumped, to win over the copy held', (r) => ({ ...r, created: r.created + 1 }), true],
    ])('ends it on a record %s after signing', async (_change, change, victimHoldsIt) => {
      const net = new Network()
      const [genuine] = published(peer, 1)
      // The genuine record's proof, beside a record it does not cover.
      serveFrom(net, attacker, storeOf([change(genuine!)]))
      const v = await startNode(net, victim)
      if (victimHoldsIt) v.store.merge(genuine!, NOW)
      const before = heldIn(v.store, genuine!.id)
      await expectRefused(v, attacker, 'forged')
      expect(heldIn(v.store, genuine!.id)).toEqual(before)
    })

    it('stores nothing of a page whose last record is forged, the genuine ones before it included', async () => {
      const net = new Network()
      const genuine = published(peer, 3)
      const [signed] = published(peer, 1)
      const changed = { ...signed!, expires: signed!.created + DAY_MS }
      serveFrom(net, attacker, storeOf([...genuine, changed]), (reply) => {
        // The forged record last in the page, whatever the key order put it.
        const last = reply.records.findIndex((r) => r.expires === changed.expires)
        expect(last).toBeGreaterThanOrEqual(0)
        const records = [...reply.records.filter((_, i) => i !== last), reply.records[last]!]
        return { ...reply, records }
      })
      const v = await startNode(net, victim)
      await expectRefused(v, attacker, 'forged')
      for (const r of genuine) expect(v.store.peek(REALM, r.id, NOW)).toBeUndefined()
    })

    it("ends it on a record that names another batch's proof", async () => {
      const net = new Network()
      // Two batches of the same origin, both genuine: each record names the other's proof.
      const [first] = published(peer, 1)
      const [second] = published(peer, 1)
      serveFrom(net, attacker, storeOf([first!, second!]), (reply) => {
        expect(reply.proofs).toHaveLength(2)
        return { ...reply, records: reply.records.map((r) => ({ ...r, proof: 1 - r.proof })) }
      })
      const v = await startNode(net, victim)
      await expectRefused(v, attacker, 'forged')
    })

    it("ends it on a tombstone forged in the name of a record's origin", async () => {
      const net = new Network()
      const [genuine] = published(peer, 1)
      const { value: _value, ...rest } = genuine!
      const tombstone = { ...rest, created: genuine!.created + 1 }
      const { proof } = forger(attacker, peer.origin).sign(REALM, [tombstone])
      serveFrom(net, attacker, storeOf([{ ...tombstone, proof }]))
      const v = await startNode(net, victim)
      v.store.merge(genuine!, NOW)
      await expectRefused(v, attacker, 'forged')
      expect(v.store.get(REALM, genuine!.id, NOW)?.value).toEqual(genuine!.value)
    })

    it("refuses a tombstone the peer signed itself for another origin's record", async () => {
      const net = new Network()
      const [genuine] = published(peer, 1)
      const { value: _value, ...rest } = genuine!
      const [tombstone] = signRecords(attacker, [{ ...rest, created: genuine!.created + 1 }])
      serveFrom(net, attacker, storeOf([tombstone!]))
      const v = await startNode(net, victim)
      v.store.merge(genuine!, NOW)
      await v.service.syncWith(attacker.peerId)
      expect(v.refused).toContainEqual(['not-owner', 1])
      expect(v.store.get(REALM, genuine!.id, NOW)).toMatchObject({
        origin: peer.origin,
        value: genuine!.value,
      })
    })

    // Fails while SyncService.receive strikes the signer of a not-owner record (see the report).
    it('does not strike an honest peer whose own record lost a race for an id, and syncs the rest', async () => {
      const net = new Network()
      // Two nodes set one memcached key at once: each holds its own record, as its origin.
      const id = new TextEncoder().encode('user:42')
      const [mine] = published(victim, 1, { id })
      const [theirs] = published(peer, 1, { id })
      const others = published(peer, 3)
      const p = await startNode(net, peer)
      for (const r of [theirs!, ...others]) p.store.merge(r, NOW)
      const v = await startNode(net, victim)
      v.store.merge(mine!, NOW)
      expect(await v.service.syncWith(peer.peerId)).toBe(true)
      expect([...v.penalized, ...p.penalized]).toEqual([])
      for (const r of others) expect(v.store.peek(REALM, r.id, NOW)).toBeDefined()
      expect(v.store.peek(REALM, id, NOW)?.origin).toBe(victim.origin)
      expect(p.store.peek(REALM, id, NOW)?.origin).toBe(peer.origin)
    })

    it('refuses the records of an origin outside the allowlist, without striking the relay', async () => {
      const net = new Network()
      const holder = await startNode(net, peer)
      const [allowed] = published(peer, 1)
      const [outsider] = published(third, 1)
      for (const r of [allowed!, outsider!]) holder.store.merge(r, NOW)
      const v = await startNode(net, victim, (origin) => origin !== third.origin)
      expect(await v.service.syncWith(peer.peerId)).toBe(true)
      expect(v.refused).toEqual([['origin-not-allowed', 1]])
      expect(v.penalized).toEqual([])
      expect(v.store.peek(REALM, outsider!.id, NOW)).toBeUndefined()
      expect(v.store.peek(REALM, allowed!.id, NOW)).toBeDefined()
    })

    it('does not send a record whose batch is not signed yet', async () => {
      const net = new Network()
      const holder = await startNode(net, peer)
      const [signed] = published(peer, 1)
      const local = record()
      for (const r of [signed!, local]) holder.store.merge(r, NOW)
      const v = await startNode(net, victim)
      expect(await v.service.syncWith(peer.peerId)).toBe(true)
      expect(v.store.peek(REALM, signed!.id, NOW)).toBeDefined()
      expect(v.store.peek(REALM, local.id, NOW)).toBeUndefined()
    })
  })

  describe('SyncService: what a peer pushes', () => {
    /** Opens a sync stream from `from` to `to`'s service; returns a request/response exchange. */
    async function dial(net: Network, from: Signer, to: Signer) {
      const stream = await net.edge(from.peerId).connectionManager.openStream(to.peerId, SYNC_PROTOCOL)
      const lp = lpStream(stream)
      return async (message: SyncMessage): Promise<SyncMessage> => {
        await lp.write(encodeSyncMessage(message))
        return decodeSyncMessage((await lp.read()).subarray())
      }
    }

    it('strikes a peer that pushes records before any range was listed, and stores none', async () => {
      const net = new Network()
      const v = await startNode(net, victim)
      const page = new RecordPage()
      for (const r of published(attacker, 3)) page.add(r)
      const exchange = await dial(net, attacker, victim)
      const push = {
        kind: SyncKind.RECORDS,
        realm: REALM,
        ranges: [],
        records: page.records,
        proofs: page.proofs,
        wanted: [],
      }
      await expect(exchange(push)).rejects.toThrow()
      await expect.poll(() => v.penalized).toEqual([[attacker.origin, 'unrequested']])
      expect(v.refused).toEqual([['unrequested', 3]])
      expect(v.store.stats().entries).toBe(0)
    })

    it('ends a session whose query holds more ranges than a message may, and answers the next', async () => {
      const net = new Network()
      const v = await startNode(net, victim)
      const query = (ranges: number): SyncMessage => ({
        kind: SyncKind.QUERY,
        realm: REALM,
        ranges: Array.from({ length: ranges }, (_, i) => ({
          depth: 4,
          prefix: BigInt(i),
          fingerprint: 1n,
          count: 1,
        })),
        records: [],
        proofs: [],
        wanted: [],
      })
      const { maxRanges } = DEFAULT_SYNC_LIMITS
      await expect((await dial(net, attacker, victim))(query(maxRanges + 1))).rejects.toThrow()
      // A message over a limit is refused by the decoder: the session ends, nobody is struck.
      expect(v.penalized).toEqual([])
      const answer = await (await dial(net, attacker, victim))(query(maxRanges))
      expect(answer.kind).toBe(SyncKind.ANSWER)
      expect(answer.ranges).toHaveLength(maxRanges)
      expect(v.service.stats.served).toBe(2)
    })

    it('answers requests that arrived together one per turn of the event loop, so that other work runs between them', async () => {
      const net = new Network()
      await startNode(net, victim)
      const stream = await net
        .edge(attacker.peerId)
        .connectionManager.openStream(victim.peerId, SYNC_PROTOCOL)
      const lp = lpStream(stream)
      const query = syncMessage(SyncKind.QUERY, [{ depth: 0, prefix: 0n, fingerprint: 1n, count: 1 }])
      await Promise.all([1, 2, 3].map(() => lp.write(encodeSyncMessage(query))))
      const loop = countTurns()
      const answeredAt: number[] = []
      for (let n = 0; n < 3; n++) {
        expect(decodeSyncMessage((await lp.read()).subarray()).kind).toBe(SyncKind.ANSWER)
        answeredAt.push(loop.turns)
      }
      loop.stop()
      expect(answeredAt[1]).toBeGreaterThan(answeredAt[0]!)
      expect(answeredAt[2]).toBeGreaterThan(answeredAt[1]!)
    })

    it('hands the loop back between decoding, answering and encoding a message once its turn is spent', async () => {
      // A 4,096-range query at 100,000 records takes about 3 ms to decode, 4 to answer and 3 to encode:
      // other work must get turns between them. A slice of 0 makes every step spend it.
      const turnsToAnswer = async (serveSliceMs: number): Promise<number> => {
        const net = new Network()
        await startNode(net, victim, undefined, [], undefined, { serveSliceMs })
        const stream = await net
          .edge(attacker.peerId)
          .connectionManager.openStream(victim.peerId, SYNC_PROTOCOL)
        const lp = lpStream(stream)
        await lp.write(
          encodeSyncMessage(
            syncMessage(SyncKind.QUERY, [{ depth: 0, prefix: 0n, fingerprint: 1n, count: 1 }]),
          ),
        )
        const loop = countTurns()
        expect(decodeSyncMessage((await lp.read()).subarray()).kind).toBe(SyncKind.ANSWER)
        loop.stop()
        return loop.turns
      }
      const whole = await turnsToAnswer(60_000)
      const sliced = await turnsToAnswer(0)
      // Behind a port, the answer comes back on a turn of its own either way (serveSyncReplica takes
      // each message on one), and a turn the transport hands back may be the one it waits in.
      expect(sliced).toBeGreaterThanOrEqual(whole + (replicaBehindPort ? 1 : 2))
    })

    it('declines a session while it runs its own, striking nobody, and serves the next one', async () => {
      const net = new Network()
      const v = await startNode(net, victim)
      const p = await startNode(net, peer)
      for (const r of published(peer, 5)) p.store.merge(r, NOW)
      // A third node that takes the victim's query and holds its answer until released.
      let release!: () => void
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      net.handle(third.peerId, async (stream) => {
        await lpStream(stream).read()
        await released
        stream.abort(new Error('gone'))
      })
      const own = v.service.syncWith(third.peerId)
      expect(v.service.stats.running).toBe(true)
      expect(await p.service.syncWith(victim.peerId)).toBe(false)
      expect(v.service.stats).toMatchObject({ declined: 1, served: 0 })
      // Declined is not failed: the peer was busy, and is asked again a moment later.
      expect(p.service.stats).toMatchObject({ declinedByPeer: 1, failed: 0 })
      expect(p.penalized).toEqual([])
      expect(v.penalized).toEqual([])
      release()
      expect(await own).toBe(false)
      expect(await p.service.syncWith(victim.peerId)).toBe(true)
      expect(v.store.stats().entries).toBe(5)
    })

    it('starts no session of its own with a peer whose session it is serving, and reconciles with it again once that one ended', async () => {
      const net = new Network()
      const clock = new ManualClock(NOW)
      const p = await startNode(net, peer, undefined, [victim])
      for (const r of published(peer, 5)) p.store.merge(r, NOW)
      const v = await startNode(net, victim, undefined, [peer], clock)
      // The peer's session, held open after its first query: what a node pulling a large replica is.
      const lp = await openSession(net, peer, victim)
      // The periodic round comes due: the only peer is reconciling with this node already.
      clock.advance(INTERVAL_MS)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(v.service.stats).toMatchObject({ started: 0, served: 1 })
      await lp.write(encodeSyncMessage(syncMessage(SyncKind.DONE)))
      await expect.poll(() => v.service.stats.servedCompleted).toBe(1)
      clock.advance(INTERVAL_MS)
      await expect.poll(() => v.service.stats.succeeded).toBe(1)
      expect(v.store.stats().entries).toBe(5)
      expect([...v.penalized, ...p.penalized]).toEqual([])
    })

    it('lets a peer that holds its session open and goes silent keep its own sessions off only until that one times out', async () => {
      const net = new Network()
      const clock = new ManualClock(NOW)
      const p = await startNode(net, peer, undefined, [victim])
      for (const r of published(peer, 5)) p.store.merge(r, NOW)
      const v = await startNode(net, victim, undefined, [peer], clock)
      await openSession(net, peer, victim)
      clock.advance(INTERVAL_MS)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(v.service.stats.started).toBe(0)
      // The served session's step deadline (timeoutMs, 5 s of real time here) ends it.
      await new Promise((resolve) => setTimeout(resolve, 5500))
      clock.advance(INTERVAL_MS)
      await expect.poll(() => v.service.stats.succeeded).toBe(1)
      expect(v.store.stats().entries).toBe(5)
    }, 15_000)

    it('takes a peer that declines every session as busy: nothing stored, nobody struck, no failure', async () => {
      const net = new Network()
      const v = await startNode(net, victim)
      // What a hostile peer can do with the decline: answer DONE to anything, forever.
      net.handle(attacker.peerId, async (stream) => {
        const lp = lpStream(stream)
        await lp.read()
        await lp.write(encodeSyncMessage(syncMessage(SyncKind.DONE)))
        await stream.close()
      })
      for (let i = 0; i < 3; i++) expect(await v.service.syncWith(attacker.peerId)).toBe(false)
      expect(v.service.stats).toMatchObject({ declinedByPeer: 3, failed: 0, succeeded: 0, running: false })
      expect(v.penalized).toEqual([])
      expect(v.store.stats().entries).toBe(0)
    })

    it('keeps one of two sessions that two nodes start with each other at once', async () => {
      const net = new Network()
      const v = await startNode(net, victim)
      const p = await startNode(net, peer)
      for (const r of published(victim, 3)) v.store.merge(r, NOW)
      for (const r of published(peer, 4)) p.store.merge(r, NOW)
      const results = await Promise.all([v.service.syncWith(peer.peerId), p.service.syncWith(victim.peerId)])
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(v.service.stats.declined + p.service.stats.declined).toBe(1)
      expect(v.service.stats.failed + p.service.stats.failed).toBe(0)
      expect([v.store.stats().entries, p.store.stats().entries]).toEqual([7, 7])
      expect([...v.penalized, ...p.penalized]).toEqual([])
    })

    it('strikes a peer that pushes a forged record into a range it was asked about', async () => {
      const net = new Network()
      const v = await startNode(net, victim)
      const fake = record()
      const { proof } = forger(attacker, peer.origin).sign(REALM, [fake])
      const store = storeOf([{ ...fake, proof }])
      const side: ReconciliationSide = {
        realm: REALM,
        digest: new RealmDigest(store.entries(REALM, NOW)),
        receive: () => {},
      }
      await expect(reconcile(side, await dial(net, attacker, victim))).rejects.toThrow()
      await expect.poll(() => v.penalized).toEqual([[attacker.origin, 'forged']])
      expect(v.store.stats().entries).toBe(0)
    })
  })

  describe('SyncService: proofs within a session', () => {
    it('ends a session whose peer names a proof by a number it never sent: nothing stored', async () => {
      const net = new Network()
      const records = published(third, 10)
      // The peer numbers the proof as if it had sent it before: every record names number 0.
      const pretended = new SyncProofTable()
      pretended.add(records[0]!.proof!)
      serveFrom(net, peer, storeOf(records), (reply) => reply, pretended)
      const v = await startNode(net, victim)
      expect(await v.service.syncWith(peer.peerId)).toBe(false)
      expect(v.store.stats().entries).toBe(0)
      expect(v.merged).toEqual([])
      expect(v.service.stats).toMatchObject({ failed: 1, recordsPulled: 0 })
    })

    it('sends each batch proof once a session, and reconciles the same with a node of the older protocol', async () => {
      // 2,000 records of 32 batches: every page of 500 draws on nearly every batch.
      const records = published(third, 2000)
      const received: Record<string, number> = {}
      for (const protocol of [SYNC_PROTOCOL, '/tlsmesh/1/sync/2.0.0']) {
        const net = new Network(protocol)
        const holder = await startNode(net, peer)
        for (const r of records) holder.store.merge(r, NOW)
        const empty = await startNode(net, victim)
        expect(await empty.service.syncWith(peer.peerId)).toBe(true)
        expect(empty.store.stats().entries).toBe(2000)
        expect(empty.penalized).toEqual([])
        received[protocol] = empty.service.stats.bytesReceived
      }
      // 32 proofs of 1.1 KB each: once in all, against once a page (4 pages) for the older protocol.
      const saved = received['/tlsmesh/1/sync/2.0.0']! - received[SYNC_PROTOCOL]!
      expect(saved).toBeGreaterThan(2 * 32 * 1100)
    })
  })

  describe('SyncService: spreading what catch-up taught', () => {
    async function line(created: number) {
      const net = new Network()
      const records = published(third, 20, { created, expires: created + 3_600_000 })
      // `peer` holds records the other two lack; `victim` is connected to both, `attacker` (here just a
      // third honest node) only to `victim`.
      const source = await startNode(net, peer, undefined, [victim])
      for (const r of records) source.store.merge(r, NOW)
      const learner = await startNode(net, victim, undefined, [peer, attacker])
      const other = await startNode(net, attacker, undefined, [victim])
      expect(await learner.service.syncWith(peer.peerId)).toBe(true)
      expect(learner.service.stats.lastResult).toMatchObject({ pulled: 20 })
      expect(learner.store.stats().entries).toBe(20)
      return { records, other }
    }

    it('a node that learnt older records reconciles with another peer unasked, which then holds them too', async () => {
      const { records, other } = await line(NOW - 10_000)
      await expect.poll(() => other.store.stats().entries, { timeout: 5000 }).toBe(20)
      for (const r of records) expect(heldIn(other.store, r.id)).toEqual(heldIn(storeOf(records), r.id))
    })

    it('a node that learnt older records reconciles with every other peer at once, not one after another', async () => {
      const net = new Network()
      const clock = new ManualClock(NOW)
      const others = await Promise.all(Array.from({ length: 4 }, () => createSigner()))
      const source = await startNode(net, peer, undefined, [victim])
      for (const r of published(third, 20, { created: NOW - 10_000, expires: NOW + 3_600_000 })) {
        source.store.merge(r, NOW)
      }
      const learner = await startNode(net, victim, undefined, [peer, ...others], clock)
      const reached = await Promise.all(others.map((other) => startNode(net, other, undefined, [victim])))
      expect(await learner.service.syncWith(peer.peerId)).toBe(true)
      // Each follow-up waits one to two meeting delays (250 ms): all of them are due by then.
      clock.advance(500)
      for (const node of reached) await expect.poll(() => node.store.stats().entries).toBe(20)
    })

    it('reconciles with a random peer each period of the clock it is given', async () => {
      const net = new Network()
      const clock = new ManualClock(NOW)
      const source = await startNode(net, peer, undefined, [victim])
      for (const r of published(third, 20)) source.store.merge(r, NOW)
      const learner = await startNode(net, victim, undefined, [peer], clock)
      clock.advance(INTERVAL_MS - 1)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(learner.service.stats.started).toBe(0)
      clock.advance(1)
      await expect.poll(() => learner.store.stats().entries).toBe(20)
      clock.advance(INTERVAL_MS)
      await expect.poll(() => learner.service.stats.succeeded).toBe(2)
    })

    it('records younger than SPREAD_MIN_AGE_MS start no spread: once old enough, one peer is asked, at most once a period', async () => {
      const net = new Network()
      const clock = new ManualClock(NOW)
      const [a, b] = await Promise.all([createSigner(), createSigner()])
      const source = await startNode(net, peer, undefined, [victim])
      const young = () =>
        published(third, 20, { created: clock.now() - 10, expires: clock.now() + 3_600_000 })
      for (const r of young()) source.store.merge(r, NOW)
      const learner = await startNode(net, victim, undefined, [peer, a!, b!], clock)
      const others = await Promise.all([a!, b!].map((s) => startNode(net, s, undefined, [victim])))
      const served = () => others.reduce((sum, node) => sum + node.service.stats.served, 0)
      const held = () => others.map((node) => node.store.stats().entries)

      expect(await learner.service.syncWith(peer.peerId)).toBe(true)
      expect(learner.store.stats().entries).toBe(20)
      // Still coming down the tree, most likely: nobody is asked yet.
      clock.advance(SPREAD_MIN_AGE_MS - 1)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(served()).toBe(0)
      // Old enough now: exactly one other peer is asked, and holds them.
      clock.advance(1)
      await expect.poll(held).toContainEqual(20)
      expect(held().sort()).toEqual([0, 20])
      expect(served()).toBe(1)

      // More young records within the same period: no second check.
      for (const r of young()) source.store.merge(r, NOW)
      expect(await learner.service.syncWith(peer.peerId)).toBe(true)
      expect(learner.store.stats().entries).toBe(40)
      clock.advance(2 * SPREAD_MIN_AGE_MS)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(served()).toBe(1)
    })
  })
}
