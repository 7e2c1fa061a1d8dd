// A hostile mesh member for attack tests: a libp2p node built from the same modules as tlsmesh,
// holding the fleet's mesh key and an identity of its own, that speaks gossipsub and the sync
// protocol directly and signs what it sends as its own (or forges what it cannot sign).
import { readFileSync } from 'node:fs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { parseMeshKey, RecordAuthenticator, SYNC_PROTOCOL } from '@tlsmesh/mesh'
import {
  decodeSyncMessage,
  encodeBatch,
  encodeSyncMessage,
  type SyncMessage,
  type WireRecord,
} from '@tlsmesh/wire'
import { createLibp2p } from 'libp2p'

export type MeshAttacker = Awaited<ReturnType<typeof createMeshAttacker>>

export async function createMeshAttacker(
  meshKeyFile: string,
  options: { key?: PrivateKey; signed?: boolean } = {},
) {
  const privateKey = options.key ?? (await generateKeyPair('Ed25519'))
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk: parseMeshKey(readFileSync(meshKeyFile)) }),
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        globalSignaturePolicy: options.signed === false ? 'StrictNoSign' : 'StrictSign',
      }),
    },
  })
  const id = node.peerId.toString()
  const auth = new RecordAuthenticator(privateKey, id)
  return {
    node,
    id,
    auth,
    /** A batch this attacker signed as its origin, as a fleet member signs its own. */
    signedBatch(realm: string, records: WireRecord[]): Uint8Array {
      return encodeBatch({ realm, records, signature: auth.sign(realm, records).signature })
    },
    async dial(addr: string): Promise<void> {
      await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) })
    },
    /** Joins the node at `addr` and a gossipsub topic, until some peer is seen on the topic. */
    async joinTopic(addr: string, topic: string): Promise<void> {
      await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) })
      node.services.pubsub.subscribe(topic)
      const deadline = Date.now() + 15_000
      while (node.services.pubsub.getSubscribers(topic).length === 0) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for a subscriber of ${topic}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    /** Opens a sync session with the node at `addr` (its multiaddr with /p2p/). */
    async syncSession(addr: string) {
      const peer = peerIdFromString(addr.split('/p2p/')[1]!)
      const stream = await node.dialProtocol(peer, SYNC_PROTOCOL, { signal: AbortSignal.timeout(5000) })
      const lp = lpStream(stream)
      return {
        async exchange(message: SyncMessage): Promise<SyncMessage> {
          await lp.write(encodeSyncMessage(message), { signal: AbortSignal.timeout(5000) })
          return decodeSyncMessage((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray())
        },
        close: () => stream.abort(new Error('done')),
      }
    },
    connectedTo(addr: string): boolean {
      return node.getConnections(peerIdFromString(addr.split('/p2p/')[1]!)).length > 0
    },
    stop: () => node.stop(),
  }
}

export function syncMessage(
  partial: Partial<SyncMessage> & Pick<SyncMessage, 'kind' | 'realm'>,
): SyncMessage {
  return { ranges: [], records: [], proofs: [], wanted: [], ...partial }
}

export function randomRecord(created: number, ttlMs: number, valueBytes = 100): WireRecord {
  return {
    id: crypto.getRandomValues(new Uint8Array(32)),
    value: crypto.getRandomValues(new Uint8Array(valueBytes)),
    created,
    expires: created + ttlMs,
  }
}
