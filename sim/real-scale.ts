import { existsSync, readFileSync } from 'node:fs'

/** One tree row of a real scale run (bench/scale.ts), per batch, as the simulator measures it. */
export interface RealTreeRow {
  nodes: number
  copiesPerBatch: number
  originSendsPerBatch: number
  linksPerNode: number
}

interface ScaleRow {
  design: string
  nodes: number
  connectionsPerNode: number
  tree?: { originSendsPerBatch: number; payloadsSent: number }
}

/** The tree rows up to N = 20 of a real scale run's result file, and its batches; undefined if none. */
export function readRealTreeRows(path: string): { batches: number; rows: RealTreeRow[] } | undefined {
  if (!existsSync(path)) return undefined
  const scale = JSON.parse(readFileSync(path, 'utf8')) as { records: number; burst: number; rows: ScaleRow[] }
  const batches = Math.ceil(scale.records / scale.burst)
  const rows = scale.rows.flatMap((row) =>
    row.design === 'tree' && row.nodes <= 20 && row.tree !== undefined
      ? [
          {
            nodes: row.nodes,
            copiesPerBatch: row.tree.payloadsSent / batches,
            originSendsPerBatch: row.tree.originSendsPerBatch,
            linksPerNode: row.connectionsPerNode,
          },
        ]
      : [],
  )
  return { batches, rows }
}
