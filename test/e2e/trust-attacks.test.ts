// Attacks by a key holder against real tlsmeshd processes, each asserting what must not happen:
// forged records through catch-up (a value replaced with its TTL stretched to 24 h, a tombstone
// under another node's name, a ticket key), records a node did not ask for, a record claiming an id
// another node made, an outsider's records relayed past an allowlist (gossip and catch-up), and a
// flood that would push the fleet's sessions out of the replica. The attacker is a libp2p node
// holding the mesh key (lib/mesh-attacker.ts); the daemons count each refusal by reason, strike and
// hang up on the offender, and keep serving and replicating.
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { realmTopic, SYNC_PROTOCOL } from '@tlsmesh/mesh'
import { periodId } from '@tlsmesh/ticket-keys'
import {
  decodeSyncMessage,
  encodeSyncMessage,
  RECORD_DIGEST_BYTES,
  type RecordProof,
  recordDigest,
  SyncKind,
  type WireRecord,
} from '@tlsmesh/wire'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from './lib/managed-process.ts'
import { createMeshAttacker, type MeshAttacker, randomRecord, syncMessage } from './lib/mesh-attacker.ts'
import {
  createMeshKey,
  startMeshedTlsmeshd,
  startTlsmeshd,
  type Tlsmeshd,
  waitForReplicas,
} from './lib/tlsmeshd-fleet.ts'

const REALM = 'web'
const HOUR = 3600_000

/** Sends text-protocol lines to a daemon's memcached endpoint; resolves with the reply once complete. */
function memcached(port: number, request: string, done = /(STORED|END|ERROR)\r\n$/): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      if (done.test(text)) socket.end()
    })
    socket.once('close', () => resolve(text))
    socket.once('error', reject)
    socket.write(request)
  })
}

async function setKeys(port: number, keys: string[], value: string): Promise<void> {
  const request = keys.map((key) => `set ${key} 0 300 ${value.length} noreply\r\n${value}\r\n`).join('')
  await memcached(port, `${request}set last 0 300 1\r\nx\r\n`, /STORED\r\n$/)
}

/** The values a daemon returns for `keys` (one multi-get). */
async function getValues(port: number, keys: string[]): Promise<Map<string, string>> {
  const reply = await memcached(port, `get ${keys.join(' ')}\r\n`, /END\r\n$/)
  const values = new Map<string, string>()
  for (const match of reply.matchAll(/VALUE (\S+) \d+ \d+\r\n([^\r]*)\r\n/g)) values.set(match[1]!, match[2]!)
  return values
}

/** A counter of a daemon's /metrics, summed over the series whose labels contain `labels`. */
async function metric(daemon: Tlsmeshd, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${daemon.adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(' ').at(-1))
  }
  return sum
}

const refused = (daemon: Tlsmeshd, path: string, reason: string) =>
  metric(daemon, 'tlsmesh_mesh_records_refused_total', `path="${path}",reason="${reason}"`)

const bytes = (text: string) => new TextEncoder().encode(text)

/** A proof for `record` under `origin`'s name with a signature the attacker made up. */
function madeUpProof(origin: string, record: WireRecord) {
  return { origin, signature: crypto.getRandomValues(new Uint8Array(64)), digests: recordDigest(record) }
}

// B, the node attacked, runs the mesh's transport on the server's thread, then on a thread of its own:
// there catch-up's records cross to the replica's thread packed, and are checked there.
describe.each([
  { b: 'B', threadArgs: [] },
  { b: 'B with --transport-thread', threadArgs: ['--transport-thread'] },
])('a key holder against the catch-up protocol of $b', ({ threadArgs }) => {
  let dir: string
  let meshKeyFile: string
  let a: Tlsmeshd
  let b: Tlsmeshd
  const attackers: MeshAttacker[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-trust-'))
    meshKeyFile = join(dir, 'mesh.key')
    await createMeshKey(meshKeyFile)
    const common = { meshKeyFile, realm: REALM, memcacheTcp: true, extraArgs: ['--ticket-keys', REALM] }
    a = await startTlsmeshd({ ...common, name: 'tlsmeshd-a' })
    b = await startTlsmeshd({
      ...common,
      name: 'tlsmeshd-b',
      seeds: [a.multiaddr],
      extraArgs: [...common.extraArgs, ...threadArgs],
    })
    expect((await b.status()).transportThread).toBe(threadArgs.length > 0)
    await setKeys(a.memcachePort!, ['victim'], 'genuine')
    await waitForReplicas([a, b], 2)
  })

  afterAll(async () => {
    await Promise.all(attackers.map((attacker) => attacker.stop()))
    await Promise.all([a?.stop(), b?.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  async function attacker(): Promise<MeshAttacker> {
    const created = await createMeshAttacker(meshKeyFile)
    attackers.push(created)
    await created.dial(b.multiaddr)
    return created
  }

  /** One sync session: a QUERY that makes B list its records, then RECORDS carrying `records`. */
  async function push(from: MeshAttacker, realm: string, records: WireRecord[], proofs: RecordProof[]) {
    const session = await from.syncSession(b.multiaddr)
    const query = { depth: 0, prefix: 0n, fingerprint: 1n, count: 1 }
    await session.exchange(syncMessage({ kind: SyncKind.QUERY, realm, ranges: [query] }))
    const proven = records.map((record, i) => ({ ...record, origin: proofs[i]!.origin, proof: i }))
    const outcome = await session
      .exchange(syncMessage({ kind: SyncKind.RECORDS, realm, records: proven, proofs }))
      .then(
        () => 'answered',
        () => 'cut off',
      )
    session.close()
    return outcome
  }

  it('refuses forged records (a value with a 24 h TTL, a tombstone, a ticket key), strikes and hangs up on the sender', async () => {
    const mallory = await attacker()
    const aId = a.multiaddr.split('/p2p/')[1]!
    const now = Date.now()
    const beforeKeys = (await b.status()).realms[`${REALM}.tickets`]?.entries ?? 0

    // 1. The realm's ticket key for the period under way, under A's name.
    const key: WireRecord = {
      id: periodId(Math.floor(now / HOUR)),
      value: new Uint8Array(80),
      created: now,
      expires: now + 2 * HOUR,
    }
    expect(await push(mallory, `${REALM}.tickets`, [key], [madeUpProof(aId, key)])).toBe('cut off')
    // 2. A's session, its value replaced and its TTL stretched from 300 s to 24 h, under A's name.
    const replaced: WireRecord = {
      id: bytes('victim'),
      value: bytes('\0\0\0\0forged'),
      created: now,
      expires: now + 24 * HOUR,
    }
    expect(await push(mallory, REALM, [replaced], [madeUpProof(aId, replaced)])).toBe('cut off')
    // 3. A tombstone for it, with a genuine signature of A's lifted from another batch: the digests
    //    it signed do not include this record.
    const session = await mallory.syncSession(b.multiaddr)
    const answer = await session.exchange(
      syncMessage({
        kind: SyncKind.QUERY,
        realm: REALM,
        ranges: [{ depth: 0, prefix: 0n, fingerprint: 1n, count: 1 }],
      }),
    )
    const pulled = await session.exchange(
      syncMessage({
        kind: SyncKind.RECORDS,
        realm: REALM,
        wanted: answer.ranges.flatMap((r) => r.items ?? []).map((i) => i.key),
      }),
    )
    session.close()
    const genuine = pulled.proofs[0]!
    expect(genuine.origin).toBe(aId)
    const tombstone: WireRecord = { id: bytes('victim'), created: now + 1, expires: now + HOUR }
    expect(await push(mallory, REALM, [tombstone], [genuine]).catch(() => 'cut off')).toBe('cut off')

    // Three strikes: B hangs up on Mallory and refuses it for a minute.
    await waitUntil(
      'B to hang up on the attacker',
      () => (mallory.connectedTo(b.multiaddr) ? undefined : true),
      {
        timeoutMs: 5000,
      },
    )
    await mallory.dial(b.multiaddr).catch(() => {})
    await new Promise((r) => setTimeout(r, 500))
    expect(mallory.connectedTo(b.multiaddr)).toBe(false)

    // Nothing was stored: both daemons serve the genuine value, B holds no forged key.
    for (const daemon of [a, b]) {
      expect((await getValues(daemon.memcachePort!, ['victim'])).get('victim')).toBe('genuine')
    }
    expect((await b.status()).realms[`${REALM}.tickets`]?.entries ?? 0).toBe(beforeKeys)
    expect(await refused(b, 'sync', 'forged')).toBeGreaterThanOrEqual(3)
    expect(genuine.digests.byteLength % RECORD_DIGEST_BYTES).toBe(0)

    // And the fleet replicates on.
    await setKeys(a.memcachePort!, ['after-attack'], 'fine')
    await waitUntil('B to get a new session', async () =>
      (await getValues(b.memcachePort!, ['after-attack'])).get('after-attack') === 'fine' ? true : undefined,
    )
  })

  it('refuses a record the sender signed itself for an id another node made, and strikes nobody for it', async () => {
    const eve = await attacker()
    const now = Date.now()
    const claim: WireRecord = {
      id: bytes('victim'),
      value: bytes('\0\0\0\0mine'),
      created: now,
      expires: now + 300_000,
    }
    const { proof } = eve.auth.sign(REALM, [claim])
    // Which claim to an id came first differs from node to node: refused and counted, no strike.
    expect(await push(eve, REALM, [claim], [proof])).toBe('answered')
    for (const daemon of [a, b]) {
      expect((await getValues(daemon.memcachePort!, ['victim'])).get('victim')).toBe('genuine')
    }
    expect(await refused(b, 'sync', 'not-owner')).toBeGreaterThanOrEqual(1)
  })

  it('refuses records it did not ask for when it catches up from a peer', async () => {
    const trudy = await createMeshAttacker(meshKeyFile)
    attackers.push(trudy)
    const unasked = randomRecord(Date.now(), 60_000)
    const { proof } = trudy.auth.sign(REALM, [unasked])
    // Trudy answers B's reconciliation as a peer would, but sends a record B never asked for.
    await trudy.node.handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        for (;;) {
          const message = decodeSyncMessage((await lp.read()).subarray())
          if (message.kind === SyncKind.QUERY) {
            const item = { key: 42n, fingerprint: 7n }
            const ranges = [{ depth: 0, prefix: 0n, fingerprint: 7n, count: 1, items: [item] }]
            await lp.write(
              encodeSyncMessage(syncMessage({ kind: SyncKind.ANSWER, realm: message.realm, ranges })),
            )
          } else if (message.kind === SyncKind.RECORDS) {
            const records = [{ ...unasked, origin: trudy.id, proof: 0 }]
            await lp.write(
              encodeSyncMessage(
                syncMessage({ kind: SyncKind.RECORDS, realm: message.realm, records, proofs: [proof] }),
              ),
            )
          } else {
            return
          }
        }
      } catch {
        // B cut the session off.
      }
    })
    const before = await refused(b, 'sync', 'unrequested')
    await trudy.dial(b.multiaddr)
    await waitUntil('B to refuse the record it did not ask for', async () =>
      (await refused(b, 'sync', 'unrequested')) > before ? true : undefined,
    )
    expect((await getValues(b.memcachePort!, ['victim'])).size).toBe(1)
    const entries = (await b.status()).realms[REALM]!.entries
    expect(entries).toBe((await a.status()).realms[REALM]!.entries)
  })
})

describe('an allowlist applies to whoever signed a record', () => {
  let dir: string
  let meshKeyFile: string
  const daemons: Tlsmeshd[] = []
  let outsider: MeshAttacker | undefined

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-allow-signers-'))
    meshKeyFile = join(dir, 'mesh.key')
    await createMeshKey(meshKeyFile)
  })

  afterAll(async () => {
    await outsider?.stop()
    await Promise.all(daemons.map((daemon) => daemon.stop()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('a node with a list stores nothing an outsider published through a node without one, by gossip or by catch-up', async () => {
    const a = await startTlsmeshd({ name: 'open-a', meshKeyFile, realm: REALM, memcacheTcp: true })
    daemons.push(a)
    const aId = a.multiaddr.split('/p2p/')[1]!
    const listed = ['--allow-peer', aId]
    const b = await startTlsmeshd({
      name: 'listed-b',
      meshKeyFile,
      realm: REALM,
      memcacheTcp: true,
      seeds: [a.multiaddr],
      extraArgs: listed,
    })
    daemons.push(b)
    await setKeys(b.memcachePort!, ['b-session'], 'of-b')
    await waitForReplicas([a, b], 2)

    // An outsider (a key holder B does not list) joins A and publishes its own records, and one
    // claiming B's session.
    outsider = await createMeshAttacker(meshKeyFile)
    const topic = realmTopic('default', REALM)
    await outsider.joinTopic(a.multiaddr, topic)
    const now = Date.now()
    const own = Array.from({ length: 20 }, (_, i) => randomRecord(now + i, 60_000))
    const claim: WireRecord = {
      id: bytes('b-session'),
      value: bytes('\0\0\0\0evil'),
      created: now + 100,
      expires: now + 60_000,
    }
    const before = await Promise.all([a.entries(), b.entries()])
    await outsider.node.services.pubsub.publish(topic, outsider.signedBatch(REALM, own))
    await outsider.node.services.pubsub.publish(topic, outsider.signedBatch(REALM, [claim]))
    await waitUntil("A (no list) to store the outsider's 20 records", async () =>
      (await a.entries()) >= before[0]! + 20 ? true : undefined,
    )
    await waitUntil('B to refuse them as relayed by A', async () =>
      (await refused(b, 'gossip', 'origin-not-allowed')) >= 20 ? true : undefined,
    )
    expect(await b.entries()).toBe(before[1]!)
    // Nobody let the outsider overwrite B's session.
    for (const daemon of [a, b])
      expect((await getValues(daemon.memcachePort!, ['b-session'])).get('b-session')).toBe('of-b')
    expect(await refused(a, 'gossip', 'not-owner')).toBeGreaterThanOrEqual(1)

    // A new node listing A and B catches up from A: everything but the outsider's records.
    const c = await startTlsmeshd({
      name: 'listed-c',
      meshKeyFile,
      realm: REALM,
      memcacheTcp: true,
      seeds: [a.multiaddr],
      extraArgs: [...listed, '--allow-peer', (await b.status()).peerId],
    })
    daemons.push(c)
    await waitUntil('C to catch up what A holds of the fleet', async () =>
      (await c.entries()) >= before[1]! ? true : undefined,
    )
    await waitUntil("C to refuse the outsider's records in catch-up", async () =>
      (await refused(c, 'sync', 'origin-not-allowed')) >= 20 ? true : undefined,
    )
    expect(await c.entries()).toBe((await a.entries()) - 20)
    expect((await getValues(c.memcachePort!, ['b-session'])).get('b-session')).toBe('of-b')
  })
})

describe('one origin cannot push the fleet out of the replica', () => {
  let dir: string
  const daemons: Tlsmeshd[] = []
  let flooder: MeshAttacker | undefined

  afterAll(async () => {
    await flooder?.stop()
    await Promise.all(daemons.map((daemon) => daemon.stop()))
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a key holder flooding a full replica displaces at most what is over its fair share', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-flood-'))
    const meshKeyFile = join(dir, 'mesh.key')
    await createMeshKey(meshKeyFile)
    // Meshed before the real sessions are written: on a slow host B once had not met A 10 s later.
    daemons.push(
      ...(await startMeshedTlsmeshd(2, {
        meshKeyFile,
        realm: REALM,
        memcacheTcp: true,
        extraArgs: ['--replica-max-entries', '1000'],
      })),
    )
    const [a, b] = daemons as [Tlsmeshd, Tlsmeshd]
    const keys = Array.from({ length: 600 }, (_, i) => `s${i}`)
    await setKeys(a.memcachePort!, keys, 'real')
    await waitForReplicas([a, b], 601)

    // 4,000 records, validly signed by the flooder as their origin, at A.
    flooder = await createMeshAttacker(meshKeyFile)
    const topic = realmTopic('default', REALM)
    await flooder.joinTopic(a.multiaddr, topic)
    const now = Date.now()
    for (let batch = 0; batch < 40; batch++) {
      const records = Array.from({ length: 100 }, (_, i) => randomRecord(now + batch * 100 + i, 300_000))
      await flooder.node.services.pubsub.publish(topic, flooder.signedBatch(REALM, records))
    }
    // A takes the flooder's records until it holds its share (500), and refuses the other 3,500;
    // B gets only the batches A accepted.
    await waitUntil(
      'A to refuse the flood beyond its share',
      async () => ((await refused(a, 'gossip', 'over-quota')) >= 3500 ? true : undefined),
      { timeoutMs: 20_000 },
    )
    await new Promise((r) => setTimeout(r, 1000))
    // Of the realm's 1,000 entries, two origins hold a fair share of 500 each: the real sessions
    // keep theirs on both daemons (the 600 keys and the most recent one, "last"), so at most 101 of
    // them made room.
    for (const daemon of [a, b]) {
      const kept = (await getValues(daemon.memcachePort!, keys)).size
      expect(kept, daemon.name).toBeGreaterThanOrEqual(499)
      expect(await daemon.entries()).toBeLessThanOrEqual(1000)
    }
  })
})

describe('realms some nodes do not serve', () => {
  let dir: string
  const daemons: Tlsmeshd[] = []

  afterAll(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()))
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a node with --ticket-keys next to one without catches up the realm both serve and becomes ready', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tlsmesh-realms-'))
    const meshKeyFile = join(dir, 'mesh.key')
    await createMeshKey(meshKeyFile)
    const plain = await startTlsmeshd({ name: 'plain', meshKeyFile, realm: REALM, memcacheTcp: true })
    daemons.push(plain)
    await setKeys(plain.memcachePort!, ['before-keys-node'], 'old')
    const keyed = await startTlsmeshd({
      name: 'keyed',
      meshKeyFile,
      realm: REALM,
      memcacheTcp: true,
      seeds: [plain.multiaddr],
      // A minute's rotation: the first key is proposed within seconds of the join grace (with an hour,
      // anywhere in the minute after it).
      extraArgs: ['--ticket-keys', REALM, '--ticket-key-rotation', '60s'],
    })
    daemons.push(keyed)
    // Its first catch-up (with the node lacking web.tickets) succeeds and brings the session.
    await waitUntil('the keyed node to hold the session made before it started', async () =>
      (await getValues(keyed.memcachePort!, ['before-keys-node'])).get('before-keys-node') === 'old'
        ? true
        : undefined,
    )
    // Ready once it holds ticket keys too: its own, proposed after the 10 s join grace and a jitter.
    const ready = await waitUntil(
      'the keyed node to be ready',
      async () => {
        const response = await fetch(`${keyed.adminUrl}/readyz`, { signal: AbortSignal.timeout(3000) })
        return response.status === 200 ? true : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(ready).toBe(true)
    // Either node may start the reconciliation that brought the session (both meet the other); the one
    // that did counts it as succeeded, the other as served to the end. Neither counts a failure.
    const keyedSync = (await keyed.status()).sync
    const plainSync = (await plain.status()).sync
    expect(keyedSync.succeeded + keyedSync.servedCompleted).toBeGreaterThanOrEqual(1)
    expect(keyedSync.failed).toBe(0)
    expect(plainSync.failed).toBe(0)
  })
})
