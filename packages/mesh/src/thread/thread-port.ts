import type { MessagePort } from 'node:worker_threads'

/**
 * One end of a channel between two threads of the process: a port of its own (a MessageChannel's),
 * not a worker's default one, so that each kind of traffic has its own.
 */
export type ThreadPort = Pick<MessagePort, 'postMessage' | 'on' | 'off'>
