import { decodeBatch, type WireLimits } from '@tlsmesh/wire'
import type { DeliveryVerdict } from '../broadcast/plumtree.ts'
import type { AuthenticatedBatch } from '../gossip-validation.ts'
import { TurnQueue } from '../sync/time-slice.ts'
import { ownBytes, type ThreadPort } from './thread-port.ts'

/**
 * One authenticated batch on its way to the replica's thread: its bytes as they came (the records
 * and the origin's signature) and its proof's digests, which the transport computed to check it.
 */
interface BatchRequest {
  call: number
  realm: string
  origin: string
  data: Uint8Array
  digests: Uint8Array
}

interface BatchVerdict {
  call: number
  verdict: DeliveryVerdict
}

/**
 * Validates and stores, on the replica's thread, the batches a transport on another thread
 * authenticated (BatchValidationClient at the port's other end), and answers each with its verdict.
 * The batch is decoded again here: the bytes cross as they are, and a batch of 64 records decodes
 * in tens of microseconds. One that no longer decodes (it cannot, as the transport decoded it with
 * the same limits) is ignored. Each batch is taken on a turn of its own, in order: storing 64 records
 * takes a few hundred microseconds, and batches that came together would otherwise be stored back to
 * back while a get waits (see TurnQueue). Returns what stops serving.
 */
export function serveBatchValidation(
  validate: (batch: AuthenticatedBatch) => DeliveryVerdict,
  port: ThreadPort,
  limits: Partial<WireLimits>,
): () => void {
  const take = ({ call, realm, origin, data, digests }: BatchRequest): void => {
    let verdict: DeliveryVerdict
    try {
      const batch = decodeBatch(data, limits)
      verdict = validate({
        realm,
        origin,
        batch,
        data,
        proof: { origin, signature: batch.signature, digests },
      })
    } catch {
      verdict = 'ignore'
    }
    port.postMessage({ call, verdict } satisfies BatchVerdict)
  }
  const turns = new TurnQueue()
  let serving = true
  const onMessage = (request: BatchRequest): void => {
    turns.next().then(() => serving && take(request))
  }
  port.on('message', onMessage)
  return () => {
    serving = false
    port.off('message', onMessage)
  }
}

/** The transport's side: an authenticated batch to the replica's thread, its verdict back. */
export class BatchValidationClient {
  readonly #port: ThreadPort
  readonly #pending = new Map<number, (verdict: DeliveryVerdict) => void>()
  #nextCall = 0

  constructor(port: ThreadPort) {
    this.#port = port
    port.on('message', ({ call, verdict }: BatchVerdict) => {
      this.#pending.get(call)?.(verdict)
      this.#pending.delete(call)
    })
  }

  validate({ realm, origin, data, proof }: AuthenticatedBatch): Promise<DeliveryVerdict> {
    const call = this.#nextCall++
    return new Promise((resolve) => {
      this.#pending.set(call, resolve)
      const request: BatchRequest = {
        call,
        realm,
        origin,
        data: ownBytes(data),
        digests: ownBytes(proof.digests),
      }
      this.#port.postMessage(request)
    })
  }

  /** Batches sent whose verdict has not come back. */
  get pending(): number {
    return this.#pending.size
  }
}
