// The design tlsmesh replaces, for the benchmarks: every origin sends each batch directly to every
// other node (full mesh, N-1 copies), over the same transport as the mesh (TCP, pnet, Noise, yamux).
// A direct sender needs no signature to be known as the origin, but batches are signed and checked
// all the same, by the mesh's own code, so that a comparison of the two shows the cost of spreading
// records and not of authenticating them.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createPrivateNetworkProtector, RecordAuthenticator } from '@tlsmesh/mesh'
import { createReplicaStore, type ReplicaStore, type SessionRecord } from '@tlsmesh/store'
import { BatchBuilder, decodeBatch } from '@tlsmesh/wire'
import { createLibp2p } from 'libp2p'
import { Registry } from 'prom-client'

const PUSH_PROTOCOL = '/tlsmesh-bench/push/1.0.0'

export interface PushNode {
  libp2p: Libp2p
  store: ReplicaStore
  registry: Registry
  connectAll(addrs: string[]): Promise<void>
  /** Publishes one batch of records to every connected peer. */
  publish(records: SessionRecord[]): void
  received: number
  stop(): Promise<void>
}

export async function createPushNode(init: {
  meshKey: Uint8Array
  realms: string[]
  now: () => number
  onRecordReceived: (realm: string, id: Uint8Array, created: number, receivedAt: number) => void
}): Promise<PushNode> {
  const registry = new Registry()
  const privateKey = await generateKeyPair('Ed25519')
  const libp2p = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    metrics: prometheusMetrics({ registry, collectDefaultMetrics: false }),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // As the mesh's (packages/mesh/src/mesh-node.ts): same transport, same idle traffic.
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionProtector: createPrivateNetworkProtector({ psk: init.meshKey }),
    connectionManager: { inboundConnectionThreshold: 1000, maxConnections: 1000 },
    services: { identify: identify() },
  })
  const store = createReplicaStore({
    realms: init.realms,
    maxEntriesPerRealm: 500_000,
    maxBytesPerRealm: 1 << 30,
  })
  // Signs manifestBytes(realm, peer id, recordDigests(records)) with this node's key, as the mesh does.
  const auth = new RecordAuthenticator(privateKey, libp2p.peerId.toString())
  const outbound: Array<LengthPrefixedStream<Stream>> = []
  const node: PushNode = {
    libp2p,
    store,
    registry,
    received: 0,
    async connectAll(addrs) {
      for (const addr of addrs) {
        const stream = await libp2p.dialProtocol(multiaddr(addr), PUSH_PROTOCOL)
        outbound.push(lpStream(stream, { maxDataLength: 4 * 1024 * 1024 }))
      }
    },
    publish(records) {
      if (records.length === 0) return
      const builder = new BatchBuilder(records[0]!.realm)
      for (const r of records)
        builder.add({ id: r.id, value: r.value!, created: r.created, expires: r.expires })
      const bytes = builder.build(auth.sign(builder.realm, builder.records).signature)
      for (const stream of outbound) void stream.write(bytes).catch(() => {})
    },
    async stop() {
      await libp2p.stop()
    },
  }
  await libp2p.handle(
    PUSH_PROTOCOL,
    async (stream, connection) => {
      const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
      const origin = connection.remotePeer.toString()
      try {
        for (;;) {
          const batch = decodeBatch((await lp.read()).subarray())
          const proof = auth.verifyBatch(batch.realm, origin, batch.records, batch.signature)
          if (proof === undefined) continue
          const now = init.now()
          for (const r of batch.records) {
            const outcome = store.merge({ ...r, realm: batch.realm, origin, proof }, now)
            if (outcome === 'added') {
              node.received++
              init.onRecordReceived(batch.realm, r.id, r.created, now)
            }
          }
        }
      } catch {
        // The peer closed the stream.
      }
    },
    { maxInboundStreams: 1024 },
  )
  return node
}
