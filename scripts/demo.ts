// The demo: three HTTPS servers (separate processes, each with an embedded mesh node) behind a
// round-robin TCP balancer, and chained clients that resume their previous connection's session.
// Runs the same load with the mesh on and off and prints the comparison.
//   pnpm demo [--connections N] [--loops N] [--servers N] [--json]
import { parseArgs } from 'node:util'
import { createFleetFiles, startFleet } from './fleet/fleet.ts'
import { percentile, runChainedClients } from './fleet/resume-client.ts'

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '400' },
    loops: { type: 'string', default: '8' },
    servers: { type: 'string', default: '3' },
    tls: { type: 'string', default: '1.2,1.3' },
    json: { type: 'boolean', default: false },
  },
})

function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    console.error(`--${name}: expected an integer from 1 to 100000, got "${raw}"`)
    process.exit(2)
  }
  return n
}

const connections = positiveInt('connections', values.connections)
const loops = positiveInt('loops', values.loops)
const servers = positiveInt('servers', values.servers)
const json = values.json === true
const tlsVersions = (values.tls ?? '').split(',').map((v) => {
  if (v !== '1.2' && v !== '1.3') {
    console.error(`--tls: expected 1.2, 1.3 or both ("1.2,1.3"), got "${v}"`)
    process.exit(2)
  }
  return v === '1.2' ? ('TLSv1.2' as const) : ('TLSv1.3' as const)
})
const progress = (text: string): void => {
  if (!json) process.stderr.write(`${text}\n`)
}

interface Row {
  tlsVersion: 'TLSv1.2' | 'TLSv1.3'
  fleet: string
  connections: number
  /** Connections that offered a session: every connection but each client's first. */
  offered: number
  resumed: number
  /** resumed / offered */
  resumptionRate: number
  errors: number
  connectionsPerSecond: number
  handshakeP50Ms: number
  handshakeP99Ms: number
  propagationP50Ms?: number | null
  propagationP99Ms?: number | null
}

const files = createFleetFiles()
const rows: Row[] = []
try {
  for (const [tlsVersion, mode] of tlsVersions.flatMap((v) =>
    (['local', 'mesh'] as const).map((m) => [v, m] as const),
  )) {
    const tickets = tlsVersion === 'TLSv1.3'
    const how = tickets ? 'TLS 1.3 tickets' : 'TLS 1.2 session ids'
    const label = `${how}, ${mode === 'mesh' ? `${servers} servers + tlsmesh` : `${servers} servers, local caches`}`
    progress(`starting ${label}...`)
    const fleet = await startFleet({ mode, servers, files, tickets })
    try {
      const formedMs = await fleet.waitForMesh()
      if (mode === 'mesh') progress(`  mesh formed in ${formedMs} ms`)
      if (tickets) progress(`  ticket keys on every server after ${await fleet.waitForTicketKeys()} ms`)
      progress(`  ${connections} connections from ${loops} chained clients through the balancer...`)
      const result = await runChainedClients({
        host: '127.0.0.1',
        port: fleet.balancerPort,
        connections,
        loops,
        tlsVersion,
      })
      const statuses = await fleet.status()
      const p50s = statuses
        .map((s) => s.mesh?.propagationMs.p50)
        .filter((v): v is number => typeof v === 'number')
      const p99s = statuses
        .map((s) => s.mesh?.propagationMs.p99)
        .filter((v): v is number => typeof v === 'number')
      rows.push({
        tlsVersion,
        fleet: label,
        connections: result.connections,
        offered: result.offered,
        resumed: result.resumed,
        resumptionRate: result.offered === 0 ? 0 : result.resumed / result.offered,
        errors: result.errors,
        connectionsPerSecond: result.connections / (result.elapsedMs / 1000),
        handshakeP50Ms: percentile(result.handshakeMs, 0.5),
        handshakeP99Ms: percentile(result.handshakeMs, 0.99),
        ...(mode === 'mesh'
          ? {
              propagationP50Ms: p50s.length > 0 ? Math.max(...p50s) : null,
              propagationP99Ms: p99s.length > 0 ? Math.max(...p99s) : null,
            }
          : {}),
      })
    } finally {
      await fleet.stop()
    }
  }
} finally {
  files.remove()
}

if (json) {
  console.log(JSON.stringify({ servers, loops, rows }, null, 2))
} else {
  const fmt = (n: number | null | undefined, digits = 1): string =>
    n === null || n === undefined ? '-' : n.toFixed(digits)
  const header = [
    'fleet',
    'conns',
    'offered',
    'resumed',
    'rate',
    'conns/s',
    'hs p50 ms',
    'hs p99 ms',
    'prop p99 ms',
  ]
  const table = rows.map((r) => [
    r.fleet,
    String(r.connections),
    String(r.offered),
    String(r.resumed),
    `${(r.resumptionRate * 100).toFixed(1)}%`,
    fmt(r.connectionsPerSecond, 0),
    fmt(r.handshakeP50Ms, 2),
    fmt(r.handshakeP99Ms, 2),
    fmt(r.propagationP99Ms, 1),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  console.log(`\nTLS session resumption through a round-robin balancer (${loops} chained clients)`)
  console.log(
    "offered: connections that offered a session (each client's first cannot); rate = resumed / offered\n",
  )
  console.log(line(header))
  for (const row of table) console.log(line(row))
  const errors = rows.reduce((n, r) => n + r.errors, 0)
  if (errors > 0) console.log(`\n${errors} connections failed`)
}
process.exit(0)
