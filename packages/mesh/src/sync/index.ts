// For benchmarks and tools that run set reconciliation outside a mesh node (bench/sync-efficiency.ts,
// the simulator's catch-up).
export type { KeyRangeDigest } from './key-range.ts'
export { RealmDigest } from './realm-digest.ts'
export { RealmDigests } from './realm-digests.ts'
export {
  answerQuery,
  answerRecords,
  ListedRanges,
  type ReconciliationResult,
  type ReconciliationSide,
  reconcile,
} from './set-reconciliation.ts'
export { syncKeyOf } from './sync-keys.ts'
export { SPREAD_MIN_AGE_MS } from './sync-replica.ts'
