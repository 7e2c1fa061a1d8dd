// For benchmarks and tools that run set reconciliation outside a mesh node (bench/sync-efficiency.ts,
// the simulator's catch-up).
export type { KeyRangeDigest } from './key-range.ts'
export { RealmDigest } from './realm-digest.ts'
export { RealmDigests } from './realm-digests.ts'
export {
  answerQuery,
  answerQueryInSlices,
  answerRecords,
  answerRecordsInSlices,
  ListedRanges,
  type ReconciliationResult,
  type ReconciliationSide,
  reconcile,
} from './set-reconciliation.ts'
export { syncKeyOf } from './sync-keys.ts'
export { ANSWER_SLICE_MS, SPREAD_MIN_AGE_MS } from './sync-replica.ts'
export { TimeSlice } from './time-slice.ts'
