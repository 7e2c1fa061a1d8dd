import { sparkline } from './sparkline.ts'
import { fit, type Style } from './terminal-style.ts'
import { bytes, compact, duration, grouped, ms, percent, rate } from './units.ts'
import type { NodeState, NodeView } from './watch-model.ts'
import { fleetWarnings, nodeWarnings, type Warning } from './watch-warnings.ts'

export interface FrameOptions {
  /** Terminal size; every line is cut to `width` and the frame to `height` lines. */
  width: number
  height: number
  style: Style
  /** Block characters for sparklines; ASCII otherwise. */
  unicode: boolean
  now: number
  intervalMs: number
}

/** A line and how to colour it once it is cut to width (colour codes must not count as columns). */
interface Line {
  text: string
  paint?: (text: string) => string
}

const STATE_LABEL: Record<NodeState, string> = { waiting: '...', up: 'UP', late: 'LATE', down: 'DOWN' }

function paintState(style: Style, state: NodeState): (text: string) => string {
  switch (state) {
    case 'up':
      return style.green
    case 'late':
      return style.yellow
    case 'down':
      return (text) => style.bold(style.red(text))
    case 'waiting':
      return style.dim
  }
}

function clock(now: number): string {
  return new Date(now).toISOString().slice(11, 19)
}

/** The lowest mesh degree over the node's realms: the realm most at risk. */
function minMesh(view: NodeView): number | undefined {
  const realms = Object.values(view.status?.realms ?? {})
  return realms.length === 0 ? undefined : Math.min(...realms.map((r) => r.meshPeers))
}

function syncWord(view: NodeView): string {
  const s = view.status
  if (s?.sync === undefined) return '-'
  if (s.sync.running) return 'run'
  if (s.sync.succeeded > 0) return 'ok'
  if (s.connectedPeers === 0) return '-'
  return s.sync.failed > 0 ? 'fail' : 'wait'
}

function hitRatio(view: NodeView): string {
  const m = view.status?.memcache
  return m == null ? '-' : percent(m.hits, m.lookups)
}

/** `[text, width, right-aligned]` cells joined by one space. */
function row(cells: Array<[string, number, boolean?]>): string {
  return cells
    .map(([text, width, right]) => {
      const cut = fit(text, width)
      return right === true ? cut.padStart(width) : cut.padEnd(width)
    })
    .join(' ')
    .trimEnd()
}

const FLEET_COLUMNS = [
  ['NODE', 15],
  ['STATE', 5],
  ['UP', 6],
  ['PEERS', 5, true],
  ['MESH', 4, true],
  ['IN/s', 6, true],
  ['OUT/s', 6, true],
  ['RECORDS', 7, true],
  ['HIT%', 5, true],
  ['P99ms', 6, true],
  ['SYNC', 4],
] as const

function fleetRow(view: NodeView): string {
  const s = view.status
  const live = view.state === 'up' || view.state === 'late'
  const values: string[] = [
    view.admin,
    STATE_LABEL[view.state],
    live && s !== undefined ? duration(s.uptimeMs) : '-',
    live && s !== undefined ? String(s.connectedPeers) : '-',
    live ? String(minMesh(view) ?? '-') : '-',
    live ? rate(view.rates.recordsIn) : '-',
    live ? rate(view.rates.recordsOut) : '-',
    live && s !== undefined ? compact(s.replica.entries) : '-',
    live ? hitRatio(view) : '-',
    live ? ms(s?.propagationMs?.p99) : '-',
    live ? syncWord(view) : '-',
  ]
  return row(FLEET_COLUMNS.map(([, width, right], i) => [values[i]!, width, right === true]))
}

function sumSeries(series: Array<(number | null)[]>): (number | null)[] {
  const length = Math.max(0, ...series.map((s) => s.length))
  const out: (number | null)[] = []
  for (let i = 0; i < length; i++) {
    // Right-aligned: the last sample of each node is the newest.
    const values = series
      .map((s) => s[s.length - length + i])
      .filter((v): v is number => typeof v === 'number')
    out.push(values.length === 0 ? null : values.reduce((a, b) => a + b, 0))
  }
  return out
}

function warningLines(views: NodeView[], options: FrameOptions, prefixAdmin: boolean): Line[] {
  const { style, now } = options
  const all: Array<{ admin: string; warning: Warning }> = []
  for (const view of views) {
    for (const warning of nodeWarnings(view, now)) all.push({ admin: view.admin, warning })
  }
  if (views.length > 1) for (const warning of fleetWarnings(views)) all.push({ admin: 'fleet', warning })
  all.sort((a, b) => (a.warning.level === b.warning.level ? 0 : a.warning.level === 'critical' ? -1 : 1))
  return all.map(({ admin, warning }) => ({
    text: `${warning.level === 'critical' ? '!!' : ' !'} ${prefixAdmin ? `${admin}: ` : ''}${warning.text}`,
    paint: warning.level === 'critical' ? style.red : style.yellow,
  }))
}

/** A short form of a key name: enough to tell keys apart on screen, like a short commit hash. */
function shortName(name: string): string {
  return name.slice(0, 8)
}

/** Per ticket key realm: the current key's name on how many nodes, and its age on the first of them. */
function fleetTicketKeyLines(views: NodeView[]): Line[] {
  const live = views.filter((v) => v.state === 'up' || v.state === 'late')
  const realms = new Set(live.flatMap((v) => Object.keys(v.status?.ticketKeys ?? {})))
  const lines: Line[] = []
  for (const realm of realms) {
    const counts = new Map<string, { count: number; ageMs: number }>()
    let without = 0
    for (const view of live) {
      const t = view.status?.ticketKeys?.[realm]
      if (t === undefined) continue
      if (t.current === null) {
        without++
        continue
      }
      const seen = counts.get(t.current.name) ?? { count: 0, ageMs: t.current.ageMs }
      seen.count++
      counts.set(t.current.name, seen)
    }
    const keys = [...counts]
      .sort((a, b) => b[1].count - a[1].count)
      .map(([name, { count, ageMs }]) => `${shortName(name)} on ${count} (age ${duration(ageMs)})`)
    if (without > 0) keys.push(`none on ${without}`)
    lines.push({ text: `ticket keys ${realm}: ${keys.join(', ')}` })
  }
  return lines
}

function fleetFrame(views: NodeView[], options: FrameOptions): { head: Line[]; warnings: Line[] } {
  const { style, unicode } = options
  const up = views.filter((v) => v.state === 'up').length
  const head: Line[] = [
    {
      text: `tlsmesh watch  ${views.length} nodes, ${up} up  ${clock(options.now)} UTC  every ${options.intervalMs / 1000}s`,
      paint: style.bold,
    },
    {
      text: row(FLEET_COLUMNS.map(([title, width, right]) => [title, width, right === true])),
      paint: style.dim,
    },
  ]
  // Room for the header, the fleet summary and one warning; past that, nodes in trouble first so
  // that a DOWN node is never the one left out.
  const maxRows = Math.max(1, options.height - 7)
  let shown = views
  if (views.length > maxRows) {
    const rank = (v: NodeView): number => (v.state === 'down' ? 0 : v.state === 'late' ? 1 : 2)
    shown = [...views].sort((a, b) => rank(a) - rank(b)).slice(0, maxRows - 1)
  }
  for (const view of shown) {
    const text = fleetRow(view)
    const state = STATE_LABEL[view.state]
    const paint = paintState(style, view.state)
    // Colour the state cell only: it sits at a fixed column.
    head.push({
      text,
      paint: (cut) => {
        const at = 16
        return (
          cut.slice(0, at) +
          cut.slice(at, at + state.length).replace(state, paint(state)) +
          cut.slice(at + state.length)
        )
      },
    })
  }
  if (shown.length < views.length) {
    head.push({
      text: `... ${views.length - shown.length} more nodes, all up (a taller terminal shows them)`,
    })
  }
  const first = views.find((v) => v.status !== undefined)?.status
  const width = 24
  const inSeries = sumSeries(views.map((v) => v.history.recordsIn))
  const outSeries = sumSeries(views.map((v) => v.history.recordsOut))
  const realms = first !== undefined ? Object.keys(first.realms).join(',') : '-'
  const degree = first?.meshDegree
  head.push({ text: '' })
  head.push({
    text: `fleet in/s  ${sparkline(inSeries, width, unicode)} ${rate(inSeries.at(-1) ?? null).padStart(6)}   realms ${realms}`,
  })
  head.push({
    text: `fleet out/s ${sparkline(outSeries, width, unicode)} ${rate(outSeries.at(-1) ?? null).padStart(6)}   ${degree !== undefined ? `mesh D ${degree.D} Dlo ${degree.Dlo} Dhi ${degree.Dhi}` : ''}`,
  })
  head.push(...fleetTicketKeyLines(views))
  return { head, warnings: warningLines(views, options, true) }
}

function detailFrame(view: NodeView, options: FrameOptions): { head: Line[]; warnings: Line[] } {
  const { style, unicode, now } = options
  const s = view.status
  const paint = paintState(style, view.state)
  const head: Line[] = [
    {
      text: `tlsmesh watch  ${view.admin}  ${STATE_LABEL[view.state]}  ${clock(now)} UTC  every ${options.intervalMs / 1000}s`,
      paint: (cut) =>
        style.bold(cut.replace(` ${STATE_LABEL[view.state]} `, ` ${paint(STATE_LABEL[view.state])} `)),
    },
  ]
  if (s === undefined) {
    head.push({ text: view.state === 'waiting' ? 'waiting for the first answer...' : 'no status yet' })
    return { head, warnings: warningLines([view], options, false) }
  }
  const ready = s.readiness === undefined ? '' : s.readiness.ready ? '  ready' : '  NOT READY'
  const age =
    view.state === 'up' || view.lastSeenAt === undefined
      ? ''
      : `  (as of ${duration(now - view.lastSeenAt)} ago)`
  head.push({ text: `node    ${s.peerId}` })
  head.push({
    text: `        v${s.version}  mesh ${s.meshName}  up ${duration(s.uptimeMs)}${ready}${age}`,
    paint: s.readiness?.ready === false ? style.yellow : undefined,
  })
  const degree = s.meshDegree
  head.push({
    text: `peers   ${s.connectedPeers} connected${degree !== undefined ? `  gossip mesh target D ${degree.D} (Dlo ${degree.Dlo}, Dhi ${degree.Dhi})` : ''}`,
  })
  head.push({
    text: row([
      ['realm', 20],
      ['mesh', 5, true],
      ['serve', 5, true],
      ['records', 9, true],
      ['bytes', 10, true],
      ['budget', 7, true],
    ]),
    paint: style.dim,
  })
  const realms = Object.entries(s.realms)
  const shownRealms = realms.slice(0, 4)
  for (const [realm, r] of shownRealms) {
    const budget = s.replicaLimits
      ? percent(
          Math.max(
            r.bytes / s.replicaLimits.maxBytesPerRealm,
            r.entries / s.replicaLimits.maxEntriesPerRealm,
          ),
          1,
        )
      : '-'
    head.push({
      text: row([
        [realm, 20],
        [String(r.meshPeers), 5, true],
        [String(r.subscribers), 5, true],
        [grouped(r.entries), 9, true],
        [bytes(r.bytes), 10, true],
        [budget, 7, true],
      ]),
    })
  }
  if (realms.length > shownRealms.length)
    head.push({ text: `... ${realms.length - shownRealms.length} more realms` })
  const tree = s.broadcast?.realms
  if (tree != null && Object.keys(tree).length > 0) {
    const realmsText = Object.entries(tree)
      .map(([realm, t]) => `${realm} ${t.eagerPeers} eager/${t.lazyPeers} lazy`)
      .join('  ')
    head.push({ text: `tree    ${realmsText}` })
  }
  for (const [realm, t] of Object.entries(s.ticketKeys ?? {}).slice(0, 2)) {
    const c = t.current
    const files =
      t.files === null
        ? ''
        : `  files ${t.files.lastWriteError !== null ? 'FAILED' : t.files.current !== null ? 'ok' : 'pending'}`
    head.push({
      text:
        c === null
          ? `keys    ${realm}  no current key  ${t.held} held${files}`
          : `keys    ${realm}  ${shortName(c.name)}  age ${duration(c.ageMs)}/${duration(t.rotationMs)}  ${t.held} held  next ${t.next !== null ? `in ${duration(t.next.startsInMs)}` : '-'}${files}`,
      paint: t.ready ? undefined : style.yellow,
    })
  }
  const spark = 40
  head.push({
    text: `in/s  ${rate(view.rates.recordsIn).padStart(7)}  ${sparkline(view.history.recordsIn, spark, unicode)}`,
  })
  head.push({
    text: `out/s ${rate(view.rates.recordsOut).padStart(7)}  ${sparkline(view.history.recordsOut, spark, unicode)}`,
  })
  head.push({
    text: `replica ${grouped(s.replica.entries)} records  ${bytes(s.replica.bytes)}  ${grouped(s.replica.evictions)} evicted  ${grouped(s.replica.expirations)} expired`,
  })
  const m = s.memcache
  head.push({
    text:
      m == null
        ? 'lookups - (no memcached endpoint on this node)'
        : `lookups ${grouped(m.lookups)}  ${rate(view.rates.lookups)}/s  hits ${grouped(m.hits)}  hit ratio ${percent(m.hits, m.lookups)}  (memcached, ${m.realm})`,
  })
  const p = s.propagationMs
  head.push({
    text: `propagation p50 ${ms(p?.p50)} ms  p99 ${ms(p?.p99)} ms  (${grouped(p?.samples ?? 0)} records; includes clock skew)`,
  })
  const refused = Object.entries(s.records.refused ?? {}).filter(([, n]) => (n ?? 0) > 0)
  head.push({
    text: `refused ${refused.length === 0 ? 'none' : refused.map(([code, n]) => `${code} ${grouped(n ?? 0)}`).join('  ')}  (${grouped(s.records.rejected)} rejected, ${grouped(s.records.ignored)} ignored)`,
  })
  const sync = s.sync
  if (sync !== undefined) {
    const last =
      sync.lastSyncAt !== null ? `last ${duration((s.time ?? now) - sync.lastSyncAt)} ago` : 'none yet'
    head.push({
      text: `catch-up ${syncWord(view)}  ${sync.succeeded} done, ${sync.failed} failed, ${sync.served} served  ${last}  pulled ${grouped(sync.recordsPulled)} pushed ${grouped(sync.recordsPushed)}`,
    })
  }
  return { head, warnings: warningLines([view], options, false) }
}

/**
 * One frame of `tlsmesh watch`: a pure function of what the nodes answered, so that it can be
 * tested without a terminal. One node: its detail; several: one row per node (the fleet view). Lines
 * are cut to `width`, the frame to `height`; warnings fill what is left, the most serious first.
 */
export function renderFrame(views: NodeView[], options: FrameOptions): string[] {
  const { head, warnings } = views.length === 1 ? detailFrame(views[0]!, options) : fleetFrame(views, options)
  const lines: Line[] = [...head]
  const room = options.height - lines.length - 1
  if (warnings.length === 0) {
    lines.push({ text: 'no warnings', paint: options.style.green })
  } else if (room > 0) {
    const shown = warnings.length <= room ? warnings : warnings.slice(0, room - 1)
    lines.push(...shown)
    if (shown.length < warnings.length)
      lines.push({ text: `... ${warnings.length - shown.length} more warnings` })
  }
  return lines.slice(0, options.height).map((line) => {
    const cut = fit(line.text, options.width)
    return line.paint !== undefined && options.style.color ? line.paint(cut) : cut
  })
}
