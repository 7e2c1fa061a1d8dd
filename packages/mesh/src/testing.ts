// For tests and test tools that play a raw libp2p peer's part beside a mesh node: not for apps,
// which use `MeshNode`'s own methods.

export { ManualClock } from './manual-clock.ts'
export type { MeshServices } from './mesh-libp2p.ts'
export { libp2pOf } from './mesh-node.ts'
