// What crosses between a mesh's threads (the transport on a worker, the replica on the server's
// thread), for the benchmarks that run such a split.
export { BatchValidationClient, serveBatchValidation } from './batch-port.ts'
export { type PackedRecords, packRecords, unpackRecords } from './packed-records.ts'
export type { ThreadPort } from './thread-port.ts'
export { forwardLocalWrites, LocalWritesClient } from './write-port.ts'
