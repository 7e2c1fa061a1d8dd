// The entry of a mesh's transport thread (threaded-mesh.ts starts it): the ports and settings come in
// its workerData. The polyfill first: libp2p needs it before any of its modules is evaluated. No
// top-level await, so that a single executable can embed this entry as a CommonJS script; a failed
// start rejects unhandled, which ends the thread with that error.
import '../promise-with-resolvers.ts'
import { workerData } from 'node:worker_threads'
import { type MeshTransportInit, type MeshTransportPorts, startMeshTransport } from './mesh-transport.ts'

const { init, ports } = workerData as { init: MeshTransportInit; ports: MeshTransportPorts }
void startMeshTransport(init, ports)
