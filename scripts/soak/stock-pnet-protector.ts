// What mesh-node.ts gets instead of our protector under stock-pnet-register.mjs: `@libp2p/pnet`.
import type { ConnectionProtector } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { parseMeshKey } from '@tlsmesh/mesh'

export function createPrivateNetworkProtector(init: { psk: Uint8Array | string }): () => ConnectionProtector {
  return preSharedKey({ psk: parseMeshKey(init.psk) })
}
