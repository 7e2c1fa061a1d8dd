// A MODEL, not a measurement: per-node bandwidth, origin fan-out, connections and propagation delay
// at N = 100, 1,000 and 10,000 for the push design, gossipsub, tlsmesh's broadcast tree and a central
// store, from the protocols' parameters, calibrated against the scale benchmark's measurements
// (bench/results/scale.json: bytes per copy, tree announcement overhead, gossipsub copies per link,
// per-hop latency). Its assumptions are written into the result.
//   node --import tsx bench/model.ts [--rate 1000] [--sizes 100,1000,10000]
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress, RESULTS_DIR, writeResult } from './lib/bench-report.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    sizes: { type: 'string', default: '10,100,1000,10000' },
    out: { type: 'string', default: 'model' },
  },
})
const rate = Number(values.rate)
const sizes = values.sizes.split(',').map(Number)

interface ScaleRow {
  design: string
  nodes: number
  totalBytesPerRecord: number
  propagationP50Ms: number
}
const scalePath = join(RESULTS_DIR, 'scale.json')
const scale: ScaleRow[] = existsSync(scalePath)
  ? (JSON.parse(readFileSync(scalePath, 'utf8')).rows as ScaleRow[])
  : []
const largest = (design: string): ScaleRow | undefined =>
  scale.filter((r) => r.design === design).sort((a, b) => b.nodes - a.nodes)[0]

// Calibration (defaults are the values measured here at N = 10 when no scale.json exists).
const push = largest('push')
const copyBytes = push !== undefined ? push.totalBytesPerRecord / (push.nodes - 1) : 255
const tree = largest('tree')
const treeExtraPerNode =
  tree !== undefined ? Math.max(0, tree.totalBytesPerRecord / (tree.nodes - 1) - copyBytes) : 20
const gossip = largest('gossipsub')
const gossipCopiesPerNode = gossip !== undefined ? gossip.totalBytesPerRecord / copyBytes / gossip.nodes : 5.5
const hopMs = push !== undefined ? Math.max(0.5, push.propagationP50Ms) : 3
const D = 6
const treeNeighbours = 16
const lookupRttMs = 0.3

const rows = sizes.map((n) => {
  // Each node originates rate / n records per second and must receive all `rate` of them.
  const inPerNode = rate * copyBytes
  return {
    nodes: n,
    push: {
      originFanOut: n - 1,
      connectionsPerNode: n - 1,
      bytesPerNodePerSecond: inPerNode + (rate / n) * (n - 1) * copyBytes,
      propagationMs: hopMs,
    },
    gossipsub: {
      originFanOut: D,
      connectionsPerNode: Math.min(n - 1, treeNeighbours),
      bytesPerNodePerSecond: rate * copyBytes * gossipCopiesPerNode * 2,
      propagationMs: hopMs * Math.max(1, Math.ceil(Math.log(n) / Math.log(D))),
    },
    tree: {
      // Payloads on a spanning tree: one copy in and, on average, one out per node; ids on the rest.
      // At most D eager links per node (DEFAULT_MAX_EAGER_PEERS), so the origin sends at most D.
      originFanOut: Math.min(n - 1, D),
      connectionsPerNode: Math.min(n - 1, treeNeighbours),
      bytesPerNodePerSecond: rate * (2 * copyBytes + 2 * treeExtraPerNode),
      propagationMs: hopMs * Math.max(1, Math.ceil(Math.log(n) / Math.log(D - 1))),
    },
    centralStore: {
      // Each node writes its own sessions and reads one per handshake; the store carries it all.
      originFanOut: 1,
      connectionsPerNode: 1,
      bytesPerNodePerSecond: (rate / n) * copyBytes * 2,
      storeBytesPerSecond: rate * copyBytes * 2,
      propagationMs: 0,
      addedToEveryLookupMs: lookupRttMs,
    },
  }
})
const result = {
  label: 'MODEL (not measured): calibrated against bench/results/scale.json',
  rateRecordsPerSecond: rate,
  calibration: { copyBytes, treeExtraPerNode, gossipCopiesPerNode, hopMs, D, treeNeighbours, lookupRttMs },
  assumptions: [
    'every node must hold every record of its realm; records are spread evenly over origins',
    'bytes per copy and per-hop latency as measured at the largest N of the scale benchmark',
    `tree: about one payload copy in and one out per node, plus announcements; at most ${D} eager links per node, so the origin sends at most ${D} copies; depth log_${D - 1}(N)`,
    'gossipsub: copies per node as measured; depth log_D(N)',
    'push: a full mesh of N-1 connections per node; one hop',
    'central store: one write per session and one network round trip per lookup; no replication',
  ],
  rows,
}
const path = writeResult(values.out, result)
console.log(JSON.stringify(result, null, 2))
progress(`wrote ${path}`)
