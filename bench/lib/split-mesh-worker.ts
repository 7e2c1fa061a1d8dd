// The mesh half of a split node (bench/lib/split-node-process.ts): mesh-node-process.ts on a worker
// thread, its IPC carried over the thread's port.
import { parentPort } from 'node:worker_threads'

const port = parentPort!
process.send = ((message: unknown) => {
  port.postMessage({ kind: 'ipc', message })
  return true
}) as typeof process.send
port.on('message', (message: unknown) => (process as NodeJS.EventEmitter).emit('message', message))
await import('./mesh-node-process.ts')
