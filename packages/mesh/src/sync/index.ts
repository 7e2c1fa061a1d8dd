// For benchmarks and tools that run set reconciliation outside a mesh node (bench/sync-efficiency.ts).
export type { KeyRangeDigest } from './key-range.ts'
export { RealmDigest } from './realm-digest.ts'
export {
  answerQuery,
  answerRecords,
  type ReconciliationResult,
  type ReconciliationSide,
  reconcile,
} from './set-reconciliation.ts'
