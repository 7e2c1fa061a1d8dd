// The mesh half of a split node (bench/lib/split-node-process.ts): mesh-node-process.ts on a worker
// thread, its IPC carried over the thread's port. With `meshNice`, the thread runs at that nice value
// (Linux: a thread's own priority, set by its thread id), below the server's thread beside it.
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import type { MeshNodeConfig } from './mesh-node-process.ts'

const { meshNice } = JSON.parse(process.argv[2] ?? '{}') as MeshNodeConfig
if (meshNice !== undefined && meshNice !== 0) {
  // /proc/thread-self names this thread: <pid>/task/<tid>.
  const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
  setPriority(tid, meshNice)
}
const port = parentPort!
process.send = ((message: unknown) => {
  port.postMessage({ kind: 'ipc', message })
  return true
}) as typeof process.send
// Records from the server's replica (`kind`) are mesh-node-process.ts's own to take.
port.on('message', (message: { kind?: string }) => {
  if (message.kind === undefined) (process as NodeJS.EventEmitter).emit('message', message)
})
await import('./mesh-node-process.ts')
