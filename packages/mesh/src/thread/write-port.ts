import type { RecordProof, ReplicaStore, SessionRecord } from '@tlsmesh/store'
import { type PackedRecords, packRecords, unpackRecords } from './packed-records.ts'
import { ownBytes, type ThreadPort } from './thread-port.ts'

type WriteMessage =
  | { op: 'records'; packed: PackedRecords }
  | { op: 'flush' }
  | { op: 'proof'; realm: string; proof: RecordProof; ids: Uint8Array[]; created: number[] }

/**
 * The replica's thread's side of publishing: what the server writes here (`local` records: new TLS
 * sessions, memcached sets and deletes) goes to the transport on another thread, one packed buffer a
 * turn, to be batched, signed and sent (LocalWritesClient); each batch's proof comes back and is
 * attached to the records it covers, so that catch-up can relay them. `flush` hands over what is
 * pending now and has the publisher send it at once.
 */
export function forwardLocalWrites(store: ReplicaStore, port: ThreadPort): { flush(): void; stop(): void } {
  let pending: SessionRecord[] = []
  const send = (): void => {
    if (pending.length === 0) return
    const packed = packRecords(pending)
    pending = []
    port.postMessage({ op: 'records', packed } satisfies WriteMessage, [packed.buffer])
  }
  const onMessage = (message: WriteMessage): void => {
    if (message.op !== 'proof') return
    const { realm, proof, ids, created } = message
    for (let i = 0; i < ids.length; i++) {
      store.attachProof({ realm, id: ids[i]!, created: created[i]!, expires: 0, origin: proof.origin }, proof)
    }
  }
  port.on('message', onMessage)
  const unwatch = store.watch({
    stored: (record, source) => {
      if (source !== 'local') return
      if (pending.push(record) === 1) setImmediate(send)
    },
    removed: () => {},
  })
  return {
    flush: () => {
      send()
      port.postMessage({ op: 'flush' } satisfies WriteMessage)
    },
    stop: () => {
      unwatch()
      port.off('message', onMessage)
    },
  }
}

/**
 * The transport's side: the server's writes, handed to `publish` (the publisher) as they come (and
 * `flush` called when the replica's side flushes), and the proofs the publisher attaches sent back,
 * one message a batch.
 */
export class LocalWritesClient {
  readonly #port: ThreadPort
  /** Proofs attached this turn, with the records each covers. */
  readonly #proofs = new Map<RecordProof, { realm: string; ids: Uint8Array[]; created: number[] }>()

  constructor(port: ThreadPort, publish: (record: SessionRecord) => void, flush: () => void = () => {}) {
    this.#port = port
    port.on('message', (message: WriteMessage) => {
      if (message.op === 'flush') flush()
      if (message.op !== 'records') return
      for (const record of unpackRecords(message.packed)) publish(record)
    })
  }

  /** The publisher signed `record`'s batch: the replica's copy gets the proof. */
  attachProof(record: SessionRecord, proof: RecordProof): void {
    let covered = this.#proofs.get(proof)
    if (covered === undefined) {
      covered = { realm: record.realm, ids: [], created: [] }
      this.#proofs.set(proof, covered)
      if (this.#proofs.size === 1) queueMicrotask(() => this.#sendProofs())
    }
    covered.ids.push(ownBytes(record.id))
    covered.created.push(record.created)
  }

  #sendProofs(): void {
    for (const [proof, { realm, ids, created }] of this.#proofs) {
      this.#port.postMessage({ op: 'proof', realm, proof, ids, created } satisfies WriteMessage)
    }
    this.#proofs.clear()
  }
}
