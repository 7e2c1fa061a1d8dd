import type { PlumtreeCounters } from './plumtree.ts'

/** What the broadcast tree reports: its own counters, the links' and each realm's degrees. */
export interface BroadcastStats extends PlumtreeCounters {
  realms: Record<string, { eagerPeers: number; lazyPeers: number; graftTimeoutMs: number }>
  framesDropped: number
  badFrames: number
  badSignatures: number
  /** Links whose stream closed while the peer stayed connected (on another connection). */
  linksReopened: number
}
