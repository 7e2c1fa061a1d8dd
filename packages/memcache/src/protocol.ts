// For the fuzzer and the conformance tests: the protocol sessions and what drives them, as a connection does.
export { BinaryProtocolSession, REQUEST_MAGIC } from './binary-protocol.ts'
export { ByteQueue } from './byte-queue.ts'
export { CacheOperations } from './cache-operations.ts'
export type { ConnectionOutput, EndpointContext, ProtocolSession } from './endpoint-context.ts'
export { EndpointCounters, EndpointStats } from './endpoint-stats.ts'
export { type Command, MemcacheMetrics } from './metrics.ts'
export { TextProtocolSession } from './text-protocol.ts'
