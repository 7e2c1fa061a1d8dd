import type { WireLimits } from '@tlsmesh/wire'
import type { Authentication } from '../broadcast/broadcast-service.ts'
import type { DeliveryVerdict } from '../broadcast/plumtree.ts'
import type { RecordRefusal } from '../errors.ts'
import type { AuthenticatedBatch, GossipVerdict } from '../gossip-validation.ts'
import type { MeshCounters } from '../mesh-metrics.ts'
import type { RecordAuthenticator } from '../record-auth.ts'
import { authenticatePayload, type TransportIngest } from '../record-ingest.ts'
import type { BatchValidationClient } from './batch-port.ts'

export interface RemoteIngestComponents {
  limits: Partial<WireLimits>
  counters: MeshCounters
  auth: RecordAuthenticator
  /** The replica's thread, which validates and stores what this thread authenticated. */
  replica: BatchValidationClient
}

/**
 * Ingest for a transport whose replica is on another thread: payloads are authenticated and
 * counted here, and their records validated and stored there, the verdict coming back later.
 */
export class RemoteIngest implements TransportIngest {
  readonly #components: RemoteIngestComponents

  constructor(components: RemoteIngestComponents) {
    this.#components = components
  }

  gossipValidator(realm: string): (from: string | undefined, data: Uint8Array) => Promise<GossipVerdict> {
    return async (from, data) => {
      const { batch, verdict } = authenticatePayload(this.#components, realm, from, data)
      return batch !== undefined ? this.validate(batch) : verdict
    }
  }

  authenticate(realm: string, origin: string, data: Uint8Array): Authentication {
    return authenticatePayload(this.#components, realm, origin, data)
  }

  validate(batch: AuthenticatedBatch): Promise<DeliveryVerdict> {
    return this.#components.replica.validate(batch)
  }

  refused(reason: RecordRefusal, records: number): void {
    this.#components.counters.countRecordRefusal('sync', reason, records)
  }
}
