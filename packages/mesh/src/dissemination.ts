import type { MeshServices } from './mesh-libp2p.ts'

/**
 * Sends a batch this node signed: along the realm's tree, or on gossipsub when the tree has no
 * neighbour yet (just started, or alone with gossipsub-only peers). Returns the peers it reached.
 */
export async function disseminate(
  services: Pick<MeshServices, 'broadcast' | 'pubsub'>,
  topics: Map<string, string>,
  realm: string,
  batch: Uint8Array,
): Promise<number> {
  const topic = topics.get(realm)
  if (topic === undefined) return 0
  const reached = services.broadcast?.publish(realm, batch) ?? 0
  if (reached > 0) return reached
  // Nobody serves the realm yet: gossipsub would sign and cache the batch for no one (an Ed25519
  // signature per batch on a lone node). Catch-up brings it to whoever joins.
  if (services.pubsub.getSubscribers(topic).length === 0) return 0
  const result = await services.pubsub.publish(topic, batch)
  return result.recipients.length
}
