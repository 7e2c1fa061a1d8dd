import type { MessagePort } from 'node:worker_threads'

/**
 * One end of a channel between two threads of the process: a port of its own (a MessageChannel's),
 * not a worker's default one, so that each kind of traffic has its own.
 */
export type ThreadPort = Pick<MessagePort, 'postMessage' | 'on' | 'off'>

/**
 * `view`'s bytes in a buffer of their own: a port clones a typed array's whole buffer, and a view
 * onto part of a larger one (a stream's chunk, a packed batch) would carry all of it.
 */
export function ownBytes(view: Uint8Array): Uint8Array {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : view.slice()
}
