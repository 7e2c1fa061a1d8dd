// The two TLS clients of the interop tests: `openssl s_client` (the reference an operator reaches
// for, sessions kept in files) and Node's tls (fast enough for loops, and a handshake timer).
import { execFile, execFileSync } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { connect } from 'node:tls'
import { promisify } from 'node:util'
import { waitUntil } from './managed-process.ts'

const run = promisify(execFile)

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3'

/** SNI sent by every client: TLS 1.3 resumption is only offered back for the same server name. */
export const SERVERNAME = 'localhost'

export interface SClientResult {
  /** "New, TLSv1.2, ..." or "Reused, TLSv1.3, ..." */
  line: string
  reused: boolean
  protocol: string
}

/**
 * One `openssl s_client` handshake with stdin closed (it exits once the handshake and the first
 * reads are done). `sessOut` saves the session (with TLS 1.3, a ticket); `sessIn`
 * offers one.
 */
export async function sClient(init: {
  host: string
  port: number
  version: TlsVersion
  sessOut?: string
  sessIn?: string
}): Promise<SClientResult> {
  const args = [
    's_client',
    '-connect',
    `${init.host}:${init.port}`,
    '-servername',
    SERVERNAME,
    init.version === 'TLSv1.2' ? '-tls1_2' : '-tls1_3',
    ...(init.sessOut !== undefined ? ['-sess_out', init.sessOut] : []),
    ...(init.sessIn !== undefined ? ['-sess_in', init.sessIn] : []),
  ]
  if (init.sessOut !== undefined) await rm(init.sessOut, { force: true })
  const pending = run('openssl', args, { timeout: 10_000 })
  if (init.sessOut === undefined) {
    pending.child.stdin?.end()
  } else {
    // End of input makes s_client close the connection, maybe before a TLS 1.3 ticket arrives
    // (tickets come after the handshake): keep it open until the session is saved.
    const saved = waitForSessionFile(init.sessOut, 5000).finally(() => pending.child.stdin?.end())
    await Promise.race([saved, pending])
  }
  const { stdout } = await pending
  const line = stdout.split('\n').find((l) => /^(New|Reused), TLS/.test(l))
  if (line === undefined) throw new Error(`s_client ${args.join(' ')}: no handshake line:\n${stdout}`)
  return { line, reused: line.startsWith('Reused'), protocol: line.split(', ')[1]! }
}

async function waitForSessionFile(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if ((await readFile(file, 'latin1')).includes('-----END SSL SESSION PARAMETERS-----')) return
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 10))
  }
}

export interface NodeHandshake {
  reused: boolean
  /** TCP connect to the end of the handshake, ms. */
  handshakeMs: number
  /** The session to offer next time (TLS 1.3: the first ticket the server sent). */
  session: Buffer | undefined
  /** With `httpGet`: the response to `GET /`, headers and body. */
  response?: string
}

/**
 * One handshake with Node's TLS client; closes the connection once it has a session to keep, or
 * with `httpGet`, once the server has answered `GET /` on it.
 */
export function nodeHandshake(init: {
  host: string
  port: number
  version: TlsVersion
  session?: Buffer
  timeoutMs?: number
  httpGet?: boolean
}): Promise<NodeHandshake> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect({
      host: init.host,
      port: init.port,
      servername: SERVERNAME,
      rejectUnauthorized: false,
      minVersion: init.version,
      maxVersion: init.version,
      ...(init.session !== undefined ? { session: init.session } : {}),
    })
    let handshakeMs: number | undefined
    let ticket: Buffer | undefined
    let result: NodeHandshake | undefined
    let response = ''
    const finish = (): void => {
      if (result !== undefined) return
      result = {
        reused: socket.isSessionReused(),
        handshakeMs: handshakeMs!,
        session: init.version === 'TLSv1.2' ? socket.getSession() : ticket,
      }
      if (init.httpGet === true) {
        socket.write(`GET / HTTP/1.1\r\nhost: ${SERVERNAME}\r\nconnection: close\r\n\r\n`)
        return
      }
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(init.timeoutMs ?? 10_000, () =>
      socket.destroy(new Error(`no handshake with ${init.host}:${init.port} within the timeout`)),
    )
    socket.on('session', (session: Buffer) => {
      if (ticket !== undefined) return
      ticket = session
      if (handshakeMs !== undefined) finish()
    })
    socket.once('secureConnect', () => {
      handshakeMs = performance.now() - started
      // TLS 1.3 tickets arrive after the handshake; TLS 1.2 has its session now.
      if (init.version === 'TLSv1.2' || ticket !== undefined) finish()
    })
    socket.on('data', (chunk: Buffer) => {
      response += chunk.toString('latin1')
    })
    socket.once('error', reject)
    socket.once('close', () => {
      if (result === undefined) reject(new Error(`closed by ${init.host}:${init.port} before a session`))
      else resolve({ ...result, response })
    })
  })
}

export interface ResumptionRate {
  sessions: number
  resumed: number
  rate: number
}

export interface FleetMember {
  host: string
  port: number
}

/**
 * `sessions` sessions made on random members of the fleet, all made first; then `afterReplication`
 * runs (to wait until every replica has them); then each is offered to another random member.
 */
export async function measureResumptionRate(
  fleet: FleetMember[],
  init: { sessions: number; version: TlsVersion; afterReplication: () => Promise<void> },
): Promise<ResumptionRate> {
  const made = []
  for (let i = 0; i < init.sessions; i++) made.push(await makeSession(fleet, init.version))
  await init.afterReplication()
  let resumed = 0
  for (const { other, session } of made) {
    if ((await nodeHandshake({ ...fleet[other]!, version: init.version, session })).reused) resumed++
  }
  return { sessions: init.sessions, resumed, rate: resumed / init.sessions }
}

export interface TimeToResume {
  sessions: number
  /** Sessions that resumed on the first offer, made right after the session was. */
  resumedAtOnce: number
  /** From the end of the handshake that made a session to the first one that resumed it, ms. */
  ms: { min: number; median: number; p90: number; max: number }
}

/**
 * A client that comes straight back through a load balancer: each session is offered to another
 * random member as soon as it is made, and again every `retryMs` until it resumes (at most
 * `timeoutMs`). Measures how soon a session made anywhere can be resumed everywhere.
 */
export async function measureTimeToResume(
  fleet: FleetMember[],
  init: { sessions: number; version: TlsVersion; retryMs?: number; timeoutMs?: number },
): Promise<TimeToResume> {
  const times: number[] = []
  let resumedAtOnce = 0
  for (let i = 0; i < init.sessions; i++) {
    const { other, session, madeAt } = await makeSession(fleet, init.version)
    for (let attempt = 0; ; attempt++) {
      const offered = await nodeHandshake({ ...fleet[other]!, version: init.version, session })
      if (offered.reused) {
        if (attempt === 0) resumedAtOnce++
        times.push(performance.now() - madeAt)
        break
      }
      if (performance.now() - madeAt > (init.timeoutMs ?? 2000)) {
        throw new Error(`a session made was still not resumable after ${init.timeoutMs ?? 2000} ms`)
      }
      await new Promise((r) => setTimeout(r, init.retryMs ?? 5))
    }
  }
  times.sort((a, b) => a - b)
  const at = (q: number): number => round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!)
  return {
    sessions: init.sessions,
    resumedAtOnce,
    ms: { min: at(0), median: at(0.5), p90: at(0.9), max: at(1) },
  }
}

/** A session made on a random member, and another member picked at random to offer it to. */
async function makeSession(fleet: FleetMember[], version: TlsVersion) {
  const pick = (n: number): number => Math.floor(Math.random() * n)
  const origin = pick(fleet.length)
  const { session } = await nodeHandshake({ ...fleet[origin]!, version })
  const madeAt = performance.now()
  if (session === undefined) throw new Error(`no session from ${fleet[origin]!.host}:${fleet[origin]!.port}`)
  return { origin, other: (origin + 1 + pick(fleet.length - 1)) % fleet.length, session, madeAt }
}

/** Full handshakes offering `session` (a lookup each), with their times: min/median/max, ms. */
export async function timeHandshakes(
  member: FleetMember,
  init: { count: number; version: TlsVersion; session?: Buffer },
): Promise<{ reused: number; ms: { min: number; median: number; max: number } }> {
  const times: number[] = []
  let reused = 0
  for (let i = 0; i < init.count; i++) {
    const result = await nodeHandshake({
      ...member,
      version: init.version,
      timeoutMs: 15_000,
      ...(init.session !== undefined ? { session: init.session } : {}),
    })
    times.push(result.handshakeMs)
    if (result.reused) reused++
  }
  times.sort((a, b) => a - b)
  return {
    reused,
    ms: {
      min: round(times[0]!),
      median: round(times[Math.floor(times.length / 2)]!),
      max: round(times[times.length - 1]!),
    },
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}

/** The name (first 16 bytes, hex) of the key that sealed the ticket in an `openssl s_client -sess_out` file. */
export function ticketKeyName(sessionFile: string): string {
  const text = execFileSync('openssl', ['sess_id', '-in', sessionFile, '-noout', '-text'], {
    encoding: 'utf8',
  })
  const first = text
    .split('TLS session ticket:')[1]
    ?.split('\n')
    .find((line) => /^\s*0000 - /.test(line))
  if (first === undefined) throw new Error(`no ticket in ${sessionFile}`)
  return first
    .replace(/^\s*0000 - /, '')
    .slice(0, 48)
    .replace(/[^0-9a-f]/g, '')
}

/** A TLS server whose ticket keys a tlsmeshd writes (nginx, HAProxy). */
export interface TicketServer {
  name: string
  port: number
  daemon: { keys(): Promise<{ current: { name: string; period: number } | null }> }
}

/**
 * Until every server hands out tickets under its daemon's current key (its reload is done); the
 * name of that key. Probe sessions are written in `dir`.
 */
export async function waitForCurrentKeys(servers: readonly TicketServer[], dir: string): Promise<string> {
  let expected = ''
  for (const server of servers) {
    const probe = join(dir, `probe-${server.name}.pem`)
    await waitUntil(
      `${server.name} to encrypt under its daemon's current key`,
      async () => {
        const current = (await server.daemon.keys()).current?.name
        await sClient({ host: '127.0.0.1', port: server.port, version: 'TLSv1.3', sessOut: probe })
        if (current !== undefined && ticketKeyName(probe) === current) {
          expected = current
          return true
        }
        return undefined
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    )
  }
  return expected
}

/**
 * One session file per server and TLS version, all sealed under the same key and made at least
 * 2.5 s before its rotation (a period too close to its end is waited out, up to four times), and
 * that key. `rotationMs` is the daemons' rotation, periods counted from the epoch.
 */
export async function ticketsUnderOneKey(
  servers: readonly TicketServer[],
  dir: string,
  init: { rotationMs: number; versions: readonly TlsVersion[] },
): Promise<{
  before: Array<{ version: TlsVersion; file: string }>
  oldKey: { name: string; period: number }
}> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const name = await waitForCurrentKeys(servers, dir)
    const current = (await servers[0]!.daemon.keys()).current!
    const rotationAt = (current.period + 1) * init.rotationMs
    if (rotationAt - Date.now() < 2500) {
      await new Promise((r) => setTimeout(r, rotationAt - Date.now() + 300))
      continue
    }
    const before: Array<{ version: TlsVersion; file: string }> = []
    for (const server of servers) {
      for (const version of init.versions) {
        const file = join(dir, `before-${server.name}-${version}.pem`)
        await sClient({ host: '127.0.0.1', port: server.port, version, sessOut: file })
        before.push({ version, file })
      }
    }
    if (before.every(({ file }) => ticketKeyName(file) === name) && Date.now() < rotationAt) {
      return { before, oldKey: { name, period: current.period } }
    }
  }
  throw new Error('no period long enough to make the tickets in')
}
