import type { Logger, ReplicaStore } from '@tlsmesh/store'
import type { MeshMetrics } from './mesh-metrics.ts'
import type { MeshNodeInit } from './mesh-node.ts'
import { MeshWarnings } from './mesh-warnings.ts'
import { PeerPolicy } from './peer-policy.ts'
import type { RecordAuthenticator } from './record-auth.ts'
import { RecordIngest } from './record-ingest.ts'
import { RealmDigests } from './sync/realm-digests.ts'
import { SyncReplica } from './sync/sync-replica.ts'

/** The node's peer policy from its settings: the allowlist and the realms' signers. */
export function peerPolicyOf(
  init: Pick<MeshNodeInit, 'allowPeers' | 'realmSigners'>,
  self: string,
  now: () => number,
  logger?: Logger,
): PeerPolicy {
  return new PeerPolicy(
    {
      self,
      ...(init.allowPeers !== undefined ? { allowPeers: init.allowPeers } : {}),
      ...(init.realmSigners !== undefined ? { realmSigners: init.realmSigners } : {}),
    },
    { now, ...(logger !== undefined ? { logger } : {}) },
  )
}

export interface ReplicaSideParts {
  store: ReplicaStore
  now: () => number
  metrics: MeshMetrics
  auth: RecordAuthenticator
  self: string
  logger?: Logger
  onRecordReceived?: (realm: string, id: Uint8Array, created: number, receivedAt: number) => void
}

/** What holds or checks the replica: on the server's thread, wherever the transport runs. */
export interface ReplicaSide {
  policy: PeerPolicy
  /** Where received records are validated, stored and counted. */
  ingest: RecordIngest
  /** One digest per served realm, kept up to date from the store's changes, for reconciliations. */
  digests: RealmDigests
  /** Catch-up's replica side. */
  replica: SyncReplica
}

export function createReplicaSide(init: MeshNodeInit, parts: ReplicaSideParts): ReplicaSide {
  const { store, now, metrics, auth, self, logger, onRecordReceived } = parts
  const policy = peerPolicyOf(init, self, now, logger)
  const ingest = new RecordIngest({
    store,
    limits: { ...init.wireLimits },
    now,
    metrics,
    auth,
    policy,
    warnings: new MeshWarnings({ now, ...(logger !== undefined ? { logger } : {}) }),
    ...(onRecordReceived !== undefined ? { onRecordReceived } : {}),
  })
  const digests = new RealmDigests(init.realms, { store, now })
  const replica = new SyncReplica({
    store,
    digests,
    now,
    originAllowed: (origin, realm) => policy.originAllowed(origin, realm),
    onMerged: (outcome, record) => ingest.merged(outcome, record),
    onRefused: (reason, records) => ingest.refused(reason, records),
  })
  return { policy, ingest, digests, replica }
}
