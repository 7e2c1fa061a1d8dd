// The entry of a mesh's transport thread (threaded-mesh.ts starts it): the ports and settings come in
// its workerData. The polyfill first: libp2p needs it before any of its modules is evaluated.
import '../promise-with-resolvers.ts'
import { workerData } from 'node:worker_threads'
import { type MeshTransportInit, type MeshTransportPorts, startMeshTransport } from './mesh-transport.ts'

const { init, ports } = workerData as { init: MeshTransportInit; ports: MeshTransportPorts }
await startMeshTransport(init, ports)
