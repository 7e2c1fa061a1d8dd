// `node --import tsx --import ./scripts/soak/stock-pnet-register.mjs ...`: the mesh node in this
// process loads the stock `@libp2p/pnet` protector instead of ours, so that the churn soak can show
// what it guards against. A test seam outside the product: mesh-node.ts stays as it is.
import { register } from 'node:module'

register('./stock-pnet-hooks.mjs', import.meta.url)
