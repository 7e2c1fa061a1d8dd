import type { DaemonStatus, TicketKeysRealmStatus } from '@tlsmesh/admin-api'
import { describe, expect, it } from 'vitest'
import { formatStatus } from '../src/format-status.ts'
import { sparkline } from '../src/sparkline.ts'
import { createStyle, visible, wantsColor } from '../src/terminal-style.ts'
import { type FrameOptions, renderFrame } from '../src/watch-frame.ts'
import { NodeTracker, type NodeView } from '../src/watch-model.ts'
import { fleetWarnings, nodeWarnings } from '../src/watch-warnings.ts'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESC = /\x1b/

function status(
  overrides: Partial<DaemonStatus> & { published?: number; received?: number } = {},
): DaemonStatus {
  const { published = 0, received = 0, ...rest } = overrides
  // Cast: MeshStatus grows as the mesh does; the frame must cope with fields it does not know.
  return {
    schema: 1,
    version: '0.1.0',
    time: T0,
    peerId: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
    meshName: 'default',
    listenAddrs: ['/ip4/127.0.0.1/tcp/7645/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'],
    connectedPeers: 2,
    peers: ['a', 'b'],
    realms: {
      www: { meshPeers: 2, subscribers: 2, entries: 1200, bytes: 640_000 },
      'api.example_com': { meshPeers: 2, subscribers: 2, entries: 30, bytes: 16_000 },
    },
    replica: { entries: 1230, bytes: 656_000, evictions: 0, expirations: 4 },
    records: {
      published,
      received,
      stored: received,
      messagesPublished: 10,
      messagesReceived: 20,
      rejected: 0,
      ignored: 3,
      refused: { 'nothing-new': 3 },
      clockSkewSuspected: 0,
    },
    propagationMs: { samples: 500, p50: 1.4, p99: 8.25 },
    sync: {
      started: 2,
      succeeded: 2,
      failed: 0,
      served: 1,
      recordsPulled: 5,
      recordsPushed: 0,
      bytesSent: 100,
      bytesReceived: 200,
      running: false,
      lastSyncAt: T0 - 12_000,
      lastResult: null,
    },
    uptimeMs: 3_723_000,
    meshDegree: { D: 6, Dlo: 4, Dhi: 12 },
    replicaLimits: { maxBytesPerRealm: 64 * 1024 * 1024, maxEntriesPerRealm: 100_000 },
    memcache: {
      realm: 'www',
      lookups: 1000,
      hits: 990,
      misses: 10,
      commands: 1500,
      connections: 2,
      errors: 0,
    },
    seeds: 1,
    logLevel: 'info',
    transportThread: false,
    readiness: { ready: true, reasons: [] },
    ...rest,
  } as DaemonStatus
}

/** A tracker fed `samples` one second apart, ending at T0. */
function tracked(admin: string, samples: DaemonStatus[]): NodeTracker {
  const tracker = new NodeTracker(admin)
  for (const [i, s] of samples.entries()) {
    tracker.ok({ ...s, uptimeMs: s.uptimeMs + i * 1000 }, T0 - (samples.length - 1 - i) * 1000)
  }
  return tracker
}

function options(overrides: Partial<FrameOptions> = {}): FrameOptions {
  return {
    width: 80,
    height: 24,
    style: createStyle(false),
    unicode: true,
    now: T0,
    intervalMs: 1000,
    ...overrides,
  }
}

function fits(lines: string[], width: number, height: number): void {
  expect(lines.length).toBeLessThanOrEqual(height)
  for (const line of lines) expect([...visible(line)].length, line).toBeLessThanOrEqual(width)
}

const busy = (): DaemonStatus[] =>
  Array.from({ length: 30 }, (_, i) => status({ published: i * 120, received: i * 250 }))

describe('watch frame: one node', () => {
  it('shows the node, its realms against D/Dlo/Dhi, rates, replica, hit ratio, propagation, catch-up', () => {
    const view = tracked('127.0.0.1:7646', busy()).view(T0)
    const text = renderFrame([view], options()).join('\n')
    expect(text).toContain('12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo')
    expect(text).toContain('up 1h02m')
    expect(text).toContain('D 6 (Dlo 4, Dhi 12)')
    expect(text).toMatch(/^www +2 +2 +1,200 +625\.0 KiB +1\.2%$/m)
    expect(text).toMatch(/^in\/s +250\.0 /m)
    expect(text).toMatch(/^out\/s +120\.0 /m)
    expect(text).toContain('hit ratio 99.0%')
    expect(text).toContain('p50 1.4 ms  p99 8.3 ms')
    expect(text).toContain('refused nothing-new 3')
    expect(text).toMatch(/catch-up ok +2 done, 0 failed/)
    expect(text).toContain('no warnings')
  })

  it('shows the broadcast tree of each realm when the mesh reports one', () => {
    const base = status()
    const tree = { realms: { www: { eagerPeers: 2, lazyPeers: 1 } } }
    const withTree = { ...base, broadcast: tree } as unknown as DaemonStatus
    const lines = renderFrame([tracked('n1', [withTree]).view(T0)], options())
    expect(lines).toContain('tree    www 2 eager/1 lazy')
    fits(lines, 80, 24)
  })

  it('tlsmesh status shows the tree of each realm and what it repaired and lost', () => {
    const tree = {
      realms: { www: { eagerPeers: 2, lazyPeers: 4, graftTimeoutMs: 400 } },
      payloadsReceived: 12_345,
      duplicates: 7,
      graftsSent: 3,
      framesDropped: 0,
      missingAbandoned: 1,
    }
    const text = formatStatus({ ...status(), broadcast: tree } as unknown as DaemonStatus)
    expect(text).toMatch(/^tree +www 2 eager\/4 lazy$/m)
    expect(text).toContain('12,345 batches in, 7 duplicates, 3 grafts, 0 frames dropped, 1 left to catch-up')
    // gossipsub only: no tree lines.
    expect(formatStatus({ ...status(), broadcast: null } as unknown as DaemonStatus)).not.toMatch(/^tree/m)
  })

  it('fits 80x24 and has no escape code without colour (NO_COLOR, or not a terminal)', () => {
    const lines = renderFrame([tracked('127.0.0.1:7646', busy()).view(T0)], options())
    fits(lines, 80, 24)
    for (const line of lines) expect(line).not.toMatch(ESC)
  })

  it('colours only on a terminal without NO_COLOR, and colour does not change the layout', () => {
    expect(wantsColor({ isTTY: true }, {})).toBe(true)
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false)
    expect(wantsColor({ isTTY: false }, {})).toBe(false)
    expect(wantsColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false)
    const view = tracked('127.0.0.1:7646', busy()).view(T0)
    const coloured = renderFrame([view], options({ style: createStyle(true) }))
    expect(coloured.join('\n')).toMatch(ESC)
    expect(coloured.map(visible)).toEqual(renderFrame([view], options()))
  })

  it('cuts every line to a narrow terminal and the frame to a short one', () => {
    const view = tracked('127.0.0.1:7646', busy()).view(T0)
    fits(renderFrame([view], options({ width: 40, height: 10 })), 40, 10)
  })

  it('warns in plain words: no peers, mesh below Dlo, catch-up running, replica near its budget', () => {
    const base = status()
    const troubled = status({
      connectedPeers: 5,
      realms: {
        www: { meshPeers: 2, subscribers: 5, entries: 95_000, bytes: 1000 },
        api: { meshPeers: 0, subscribers: 0, entries: 0, bytes: 0 },
      },
      sync: { ...base.sync, running: true },
    })
    const text = renderFrame([tracked('n1', [troubled]).view(T0)], options()).join('\n')
    expect(text).toContain('realm api: no gossip mesh peer, its sessions do not travel')
    expect(text).toContain('realm www: mesh degree 2 below Dlo 4 although 5 peers serve it')
    expect(text).toContain('catch-up running')
    expect(text).toContain('realm www: replica at 95% of its budget')
    const alone = renderFrame([tracked('n1', [status({ connectedPeers: 0, peers: [] })]).view(T0)], options())
    expect(alone.join('\n')).toContain('no peers: none of the seeds answers')
  })

  it('does not call a small fleet degraded: 2 mesh peers out of 2 is below Dlo but all there is', () => {
    expect(nodeWarnings(tracked('n1', [status()]).view(T0), T0)).toEqual([])
  })

  it('shows a node that stops answering as LATE, then DOWN, keeping its last status', () => {
    const tracker = tracked('127.0.0.1:7646', busy())
    tracker.failed('no answer within 1000 ms', T0 + 1000)
    const late = renderFrame([tracker.view(T0 + 1000)], options({ now: T0 + 1000 })).join('\n')
    expect(late).toContain('127.0.0.1:7646  LATE')
    expect(late).toContain('daemon unreachable for 0s (no answer within 1000 ms)')
    tracker.failed('no answer within 1000 ms', T0 + 3000)
    const down = renderFrame([tracker.view(T0 + 3000)], options({ now: T0 + 3000 })).join('\n')
    expect(down).toContain('127.0.0.1:7646  DOWN')
    expect(down).toContain('daemon unreachable for 2s')
    expect(down).toContain('as of 3s ago')
  })
})

describe('watch frame: a fleet', () => {
  it('shows one row per node with peers, mesh degree, rates, records, hit ratio, p99 and sync', () => {
    const views = ['127.0.0.1:7646', '127.0.0.1:7647', '127.0.0.1:7648'].map((a) =>
      tracked(a, busy()).view(T0),
    )
    const lines = renderFrame(views, options())
    fits(lines, 80, 24)
    expect(lines[0]).toContain('3 nodes, 3 up')
    expect(lines[1]).toMatch(/^NODE +STATE +UP +PEERS +MESH +IN\/s +OUT\/s +RECORDS +HIT% +P99ms +SYNC$/)
    for (const admin of ['127.0.0.1:7646', '127.0.0.1:7647', '127.0.0.1:7648']) {
      const row = lines.find((l) => l.startsWith(admin))
      expect(row).toMatch(/^\S+ +UP +1h02m +2 +2 +250\.0 +120\.0 +1\.2k +99\.0% +8\.3 ok$/)
    }
    expect(lines.join('\n')).toContain('fleet in/s')
    expect(lines.join('\n')).toContain('mesh D 6 Dlo 4 Dhi 12')
  })

  it('cuts no value in a row: 100% hits, 100 days up, millions of records, a p99 of minutes', () => {
    const edge = (memcache: DaemonStatus['memcache'], extra: Partial<DaemonStatus> = {}) =>
      status({
        uptimeMs: 123 * 86_400_000,
        replica: { entries: 9_999_999, bytes: 1, evictions: 0, expirations: 0 },
        propagationMs: { samples: 10, p50: 1, p99: 1_234_567 },
        memcache,
        ...extra,
      })
    const full = {
      realm: 'www',
      lookups: 5000,
      hits: 5000,
      misses: 0,
      commands: 5000,
      connections: 1,
      errors: 0,
    }
    const views = [
      tracked('a:1', [edge(full)]).view(T0),
      tracked('b:1', [edge({ ...full, lookups: 0, hits: 0 })]).view(T0),
      tracked('c:1', [edge({ ...full, hits: 0 })]).view(T0),
      tracked('d:1', [edge({ ...full, hits: 19_990, lookups: 20_000 })]).view(T0),
    ]
    const rows = renderFrame(views, options()).filter((l) => /^[a-d]:1 /.test(l))
    expect(rows).toHaveLength(4)
    for (const row of rows) expect(row, row).not.toContain('~')
    const hit = (admin: string) => rows.find((l) => l.startsWith(admin))!.split(/ +/)[8]
    expect([hit('a:1'), hit('b:1'), hit('c:1'), hit('d:1')]).toEqual(['100%', '-', '0.0%', '99.9%'])
    expect(rows[0]).toMatch(/^a:1 +UP +123d +2 +2 +- +- +10M +100% +1\.2M +ok$/)
  })

  it('marks a node whose daemon is gone DOWN at once (connection refused), with a warning naming it', () => {
    const up = tracked('127.0.0.1:7646', busy())
    const gone = tracked('127.0.0.1:7647', busy())
    gone.failed('connection refused', T0 + 500, true)
    const lines = renderFrame([up.view(T0 + 500), gone.view(T0 + 500)], options({ now: T0 + 500 }))
    fits(lines, 80, 24)
    expect(lines.find((l) => l.startsWith('127.0.0.1:7647'))).toMatch(/^127\.0\.0\.1:7647 +DOWN +- +- +-/)
    expect(lines.join('\n')).toContain('!! 127.0.0.1:7647: daemon unreachable for 0s (connection refused)')
    expect(lines[0]).toContain('2 nodes, 1 up')
  })

  it('shows a node that never answered as DOWN', () => {
    const never = new NodeTracker('127.0.0.1:9')
    never.failed('no answer within 1000 ms', T0)
    const lines = renderFrame([tracked('a:1', busy()).view(T0), never.view(T0)], options())
    expect(lines.find((l) => l.startsWith('127.0.0.1:9'))).toContain('DOWN')
  })

  it('keeps DOWN nodes on screen when the fleet is taller than the terminal', () => {
    const views: NodeView[] = []
    for (let i = 0; i < 40; i++) {
      const t = tracked(`10.0.0.${i}:7646`, [status()])
      if (i === 37) t.failed('connection refused', T0, true)
      views.push(t.view(T0))
    }
    const lines = renderFrame(views, options())
    fits(lines, 80, 24)
    expect(lines.some((l) => l.startsWith('10.0.0.37:7646') && l.includes('DOWN'))).toBe(true)
    expect(lines.join('\n')).toMatch(/\.\.\. \d+ more nodes, all up/)
  })

  it('colours the state cell without moving it, and has no escape code with NO_COLOR', () => {
    const gone = tracked('127.0.0.1:7647', busy())
    gone.failed('connection refused', T0, true)
    const views = [tracked('127.0.0.1:7646', busy()).view(T0), gone.view(T0)]
    const plain = renderFrame(views, options())
    for (const line of plain) expect(line).not.toMatch(ESC)
    const coloured = renderFrame(views, options({ style: createStyle(true) }))
    expect(coloured.map(visible)).toEqual(plain)
    expect(coloured.find((l) => visible(l).startsWith('127.0.0.1:7647'))).toContain('\x1b[31mDOWN')
  })
})

describe('rates and history', () => {
  it('are per second from counter deltas, and start again when the daemon restarts', () => {
    const tracker = new NodeTracker('n')
    tracker.ok(status({ published: 100, uptimeMs: 10_000 }), T0)
    expect(tracker.view(T0).rates.recordsOut).toBeNull()
    tracker.ok(status({ published: 300, uptimeMs: 12_000 }), T0 + 2000)
    expect(tracker.view(T0 + 2000).rates.recordsOut).toBe(100)
    tracker.ok(status({ published: 5, uptimeMs: 1000 }), T0 + 3000)
    expect(tracker.view(T0 + 3000).rates.recordsOut).toBeNull()
  })

  it('counts rejected messages over the history window', () => {
    const base = status()
    const tracker = new NodeTracker('n')
    tracker.ok(base, T0)
    tracker.ok(
      { ...base, records: { ...base.records, rejected: 4 }, uptimeMs: base.uptimeMs + 1000 },
      T0 + 1000,
    )
    expect(nodeWarnings(tracker.view(T0 + 1000), T0 + 1000)).toEqual([
      { level: 'warning', text: '4 invalid gossip message(s) rejected in the last 1s' },
    ])
  })

  it('sparkline: scaled to the largest value, gaps as spaces, ASCII when the terminal is not UTF-8', () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toBe('▁▂▃▅█')
    expect(sparkline([null, 0, 0], 4)).toBe('  ▁▁')
    expect(sparkline([0, 8], 2, false)).toBe('_@')
  })
})

const NAME = '5b0c6f1a2e3d4c5b6a79881726354453'
const HOUR = 3_600_000

/** A healthy realm `www` with ticket keys: 12 minutes into an hourly period, files written, hook ok. */
function keys(overrides: Partial<TicketKeysRealmStatus> = {}): TicketKeysRealmStatus {
  return {
    keyRealm: 'www.tickets',
    ready: true,
    held: 14,
    current: { name: NAME, period: 493_012, ageMs: 12 * 60_000 + 3000, origin: 'a' },
    next: null,
    rotationMs: HOUR,
    decryptLifetimeMs: 12 * HOUR,
    proposed: 3,
    rotations: 9,
    replaced: 0,
    invalidRecords: 0,
    errors: 0,
    files: {
      dir: '/run/tlsmesh/tickets/www',
      format: 'nginx',
      slots: 16,
      writes: 9,
      writeErrors: 0,
      current: NAME,
      lastWriteAt: T0 - 12 * 60_000,
      lastWriteError: null,
      hookRuns: 9,
      hookFailures: 0,
      lastHook: { code: 0, signal: null, timedOut: false, durationMs: 40 },
    },
    ...overrides,
  }
}

const withKeys = (t: TicketKeysRealmStatus): DaemonStatus => status({ ticketKeys: { www: t } })

describe('ticket keys', () => {
  it('tlsmesh status shows the current key name, its age, the keys held and the files, never a key', () => {
    const text = formatStatus(
      withKeys(keys({ next: { name: 'ff'.repeat(16), period: 493_013, startsInMs: 47 * 60_000 } })),
    )
    expect(text).toMatch(/^ticket keys +current key name +age +held +next$/m)
    expect(text).toMatch(new RegExp(`^www +${NAME} +12m03s +14 +in 47m00s$`, 'm'))
    expect(text).toContain('rotation 1h00m, then decrypts 12h00m; 9 rotations, 3 proposed here, 0 replaced')
    expect(text).toContain('nginx files in /run/tlsmesh/tickets/www: written 12m00s ago; hook ok')
    expect(formatStatus(withKeys(keys({ current: null, held: 0, ready: false })))).toMatch(
      /^www +none yet +- +0 +- +NOT READY$/m,
    )
    // A daemon without ticket keys (or older than them) prints no section.
    expect(formatStatus(status())).not.toContain('ticket keys')
  })

  it('watch shows the key of each realm in the detail and a healthy key warns of nothing', () => {
    const view = tracked('n1', [withKeys(keys())]).view(T0)
    const lines = renderFrame([view], options())
    fits(lines, 80, 24)
    expect(lines).toContain('keys    www  5b0c6f1a  age 12m03s/1h00m  14 held  next -  files ok')
    expect(nodeWarnings(view, T0)).toEqual([])
  })

  it('warns in plain words: no current key, a key past its rotation, a missing next key, failing files', () => {
    const warn = (t: TicketKeysRealmStatus) => nodeWarnings(tracked('n1', [withKeys(t)]).view(T0), T0)
    expect(warn(keys({ current: null, ready: false, held: 0 }))).toEqual([
      {
        level: 'critical',
        text: 'realm www: no current ticket key: tickets may not resume elsewhere',
      },
    ])
    const stuck = keys({ current: { name: NAME, period: 1, ageMs: HOUR + 6000, origin: 'a' } })
    expect(warn(stuck)).toEqual([
      {
        level: 'critical',
        text: 'realm www: ticket key 1h00m old: it stopped rotating every 1h00m',
      },
    ])
    // Within the margin (a timer a little late) is no warning.
    expect(warn(keys({ current: { name: NAME, period: 1, ageMs: HOUR + 1000, origin: 'a' } }))).toEqual([])
    expect(
      warn(keys({ ready: false, current: { name: NAME, period: 1, ageMs: HOUR - 30_000, origin: 'a' } })),
    ).toEqual([{ level: 'warning', text: 'realm www: next ticket key, due in 30s, has not arrived' }])
    const failing = keys()
    failing.files = {
      ...failing.files!,
      lastWriteError: 'ENOSPC: no space left on device',
      lastHook: { code: 1, signal: null, timedOut: false, durationMs: 10 },
    }
    expect(warn(failing).map((w) => w.text)).toEqual([
      'realm www: key files not written, server keeps old keys: ENOSPC: no space left on device',
      'realm www: ticket key hook failed (exit 1): server may hold old keys',
    ])
  })

  it('the fleet view shows which key each node encrypts with, and warns when nodes disagree', () => {
    const same = ['a:1', 'b:1', 'c:1'].map((admin) => tracked(admin, [withKeys(keys())]).view(T0))
    const lines = renderFrame(same, options())
    fits(lines, 80, 24)
    expect(lines).toContain('ticket keys www: 5b0c6f1a on 3 (age 12m03s)')
    expect(fleetWarnings(same)).toEqual([])

    const other = keys({ current: { name: 'e'.repeat(32), period: 493_012, ageMs: 1000, origin: 'b' } })
    const split = [...same.slice(0, 2), tracked('c:1', [withKeys(other)]).view(T0)]
    const text = renderFrame(split, options()).join('\n')
    expect(text).toContain('ticket keys www: 5b0c6f1a on 2 (age 12m03s), eeeeeeee on 1 (age 1s)')
    expect(text).toContain('!! fleet: realm www: nodes use different ticket keys: no resumption across them')
    // Nodes polled on either side of a rotation hold different periods: no split.
    const next = keys({ current: { name: 'e'.repeat(32), period: 493_013, ageMs: 10, origin: 'b' } })
    expect(fleetWarnings([...same.slice(0, 2), tracked('c:1', [withKeys(next)]).view(T0)])).toEqual([])
  })
})
