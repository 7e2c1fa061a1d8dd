import { constants } from 'node:crypto'
import * as tls from 'node:tls'
import { createReplicaStore, LocalSessionCache, type ReplicaStore } from '@tlsmesh/store'
import { createTicketKeySchedule, type TicketKeySchedule, ticketKeyRealm } from '@tlsmesh/ticket-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionResumptionOptions } from '../src/attach-session-cache.ts'
import {
  type AttachedTicketKeys,
  attachTicketKeys,
  ticketResumptionOptions,
} from '../src/attach-ticket-keys.ts'
import { type Credentials, close, listen, makeCredentials } from './tls-fixtures.ts'

const REALM = 'www'
const HOUR = 3_600_000
/** The start of an hourly period. */
const T0 = Math.floor(1_700_000_000_000 / HOUR) * HOUR
const TLS12 = { maxVersion: 'TLSv1.2' } as const
const TLS13 = { minVersion: 'TLSv1.3' } as const
/** Clients holding a ticket when a rotation comes. */
const CLIENTS = 20

let creds: Credentials
const servers: tls.Server[] = []
beforeAll(() => {
  creds = makeCredentials()
})
afterAll(async () => {
  await Promise.all(servers.map(close))
})

interface Result {
  reused: boolean
  protocol: string | null
  session: Buffer | undefined
}

/**
 * One connection. A full TLS 1.3 handshake hands its ticket over just after the handshake, so wait for
 * it; a resumed one may not send a new ticket at all (Node/OpenSSL keep using the offered one).
 */
function connect(port: number, options: tls.ConnectionOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined
    const socket = tls.connect({ host: '127.0.0.1', port, ca: creds.cert, ...options })
    const timer = setTimeout(() => socket.destroy(new Error('handshake timed out')), 3000)
    socket.on('session', (s: Buffer) => {
      session = s
    })
    socket.once('secureConnect', () => {
      const reused = socket.isSessionReused()
      const protocol = socket.getProtocol()
      const finish = (): void => {
        socket.end()
        socket.once('close', () => {
          clearTimeout(timer)
          resolve({ reused, protocol, session: session ?? options.session ?? socket.getSession() })
        })
      }
      if (session !== undefined || protocol !== 'TLSv1.3' || reused) finish()
      else socket.once('session', finish)
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** The fleet: one replica shared by all (a stand-in for the mesh), a schedule per server. */
interface Fleet {
  store: ReplicaStore
  clock: { now: number }
  nodes: Array<{ port: number; schedule: TicketKeySchedule; attached: AttachedTicketKeys }>
}

async function fleet(count: number, sessionIdContexts: string[] = []): Promise<Fleet> {
  const store = createReplicaStore({ realms: [REALM, ticketKeyRealm(REALM)] })
  const clock = { now: T0 + 50 * 60_000 }
  const now = (): number => clock.now
  const nodes: Fleet['nodes'] = []
  for (let i = 0; i < count; i++) {
    const cache = new LocalSessionCache({ store, now, origin: `node-${i}` })
    const schedule = createTicketKeySchedule({ realm: REALM, joinGraceMs: 0 }, { cache, now })
    // The first node proposes at once (its jitter aside, refresh() after start finds the key due).
    await schedule.start()
    const { server, port } = await listen({
      ...creds,
      ...ticketResumptionOptions({ sessionIdContext: sessionIdContexts[i] ?? 'fleet' }),
    })
    servers.push(server)
    nodes.push({ port, schedule, attached: attachTicketKeys(server, schedule) })
  }
  // Past every node's jitter: the first key is proposed by one node, read by all.
  clock.now += 60_000
  for (const node of nodes) node.schedule.refresh()
  return { store, clock, nodes }
}

/** Moves the fleet's clock to the start of the next period; every schedule rotates. */
function rotate(f: Fleet): void {
  const schedule = f.nodes[0]!.schedule
  f.clock.now = schedule.periodStart(schedule.periodAt(f.clock.now) + 1)
  for (const node of f.nodes) node.schedule.refresh()
}

describe('attachTicketKeys', () => {
  it.each([
    ['TLS 1.3', TLS13],
    ['TLS 1.2', TLS12],
  ])(
    'lets two servers on two schedules over one replica resume each other %s tickets',
    async (_, version) => {
      const f = await fleet(2)
      const [one, two] = f.nodes
      const current = one!.schedule.current()!
      expect(two!.schedule.current()!.sameKey(current)).toBe(true)
      expect(one!.attached.stats).toEqual({ installs: 1, currentName: current.nameHex })

      const first = await connect(one!.port, version)
      expect(first.reused).toBe(false)
      const onTwo = await connect(two!.port, { ...version, session: first.session! })
      expect(onTwo).toMatchObject({ reused: true, protocol: version === TLS13 ? 'TLSv1.3' : 'TLSv1.2' })
      const fromTwo = await connect(two!.port, version)
      expect((await connect(one!.port, { ...version, session: fromTwo.session! })).reused).toBe(true)
    },
  )

  it(`costs one full handshake per outstanding ticket at a rotation (${CLIENTS} clients), then resumes across again`, async () => {
    const f = await fleet(2)
    const [one, two] = f.nodes
    const tickets = await Promise.all(Array.from({ length: CLIENTS }, () => connect(one!.port, TLS13)))
    const before = await Promise.all(
      tickets.map((t) => connect(two!.port, { ...TLS13, session: t.session! })),
    )
    expect(before.filter((r) => r.reused)).toHaveLength(CLIENTS)

    rotate(f)
    expect(one!.attached.stats.installs).toBe(2)
    expect(two!.attached.stats.currentName).toBe(one!.schedule.current()!.nameHex)
    // Node holds one key: every ticket issued before the rotation now gets a full handshake, on the
    // server that issued it as much as on the others.
    const after = await Promise.all(
      tickets.map((t, i) => connect(i % 2 ? one!.port : two!.port, { ...TLS13, session: t.session! })),
    )
    const failed = after.filter((r) => !r.reused).length
    expect(failed).toBe(CLIENTS)
    // The full handshakes handed out new tickets, under the new key: they resume on either server.
    const again = await Promise.all(
      after.map((r, i) => connect(i % 2 ? two!.port : one!.port, { ...TLS13, session: r.session! })),
    )
    expect(again.filter((r) => r.reused)).toHaveLength(CLIENTS)
  })

  it('does not resume across servers without shared keys, nor across session id contexts', async () => {
    const { server, port } = await listen({
      ...creds,
      ...ticketResumptionOptions({ sessionIdContext: 'fleet' }),
    })
    servers.push(server)
    const f = await fleet(2, ['fleet', 'other'])
    const ticket = await connect(f.nodes[0]!.port, TLS13)
    // Its own random key: tickets from the fleet do not decrypt.
    expect((await connect(port, { ...TLS13, session: ticket.session! })).reused).toBe(false)
    // Same key, another sessionIdContext: OpenSSL refuses the session.
    expect((await connect(f.nodes[1]!.port, { ...TLS13, session: ticket.session! })).reused).toBe(false)
  })

  it('stops installing keys once detached', async () => {
    const f = await fleet(1)
    const node = f.nodes[0]!
    node.attached.detach()
    rotate(f)
    expect(node.attached.stats.installs).toBe(1)
  })
})

describe('ticketResumptionOptions', () => {
  it('clears SSL_OP_NO_TICKET and keeps the other options', () => {
    const off = sessionResumptionOptions({ sessionIdContext: 'www' })
    expect(off.secureOptions & constants.SSL_OP_NO_TICKET).not.toBe(0)
    const on = ticketResumptionOptions({ sessionIdContext: 'www', secureOptions: off.secureOptions })
    expect(on).toEqual({
      sessionIdContext: 'www',
      secureOptions: off.secureOptions & ~constants.SSL_OP_NO_TICKET,
    })
    expect(() => ticketResumptionOptions({ sessionIdContext: '' })).toThrow(RangeError)
  })
})
