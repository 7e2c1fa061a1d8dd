// One tlsmeshd in a network namespace: forked there (forkScript's netns), this process starts the
// daemon with startTlsmeshd, whose admin endpoint is on the namespace's own loopback and so out of
// the parent's reach, has it listen and announce on the host's lab address, and relays its status
// over IPC. Started by lab-processes.ts.
import { startTlsmeshd } from '../../test/e2e/lib/tlsmeshd-fleet.ts'

export interface LabTlsmeshdConfig {
  name: string
  meshKeyFile: string
  realm: string
  /** The host's lab address and the port to listen on there. */
  address: string
  port: number
  seeds: string[]
  memcacheSocket: string
}

const config = JSON.parse(process.argv[2] ?? '{}') as LabTlsmeshdConfig
const listen = `/ip4/${config.address}/tcp/${config.port}`
const daemon = await startTlsmeshd({
  name: config.name,
  meshKeyFile: config.meshKeyFile,
  realm: config.realm,
  seeds: config.seeds,
  memcacheSocket: config.memcacheSocket,
  extraArgs: ['--listen', listen, '--announce', listen, '--log-level', 'warn'],
})

process.on('message', (message: { type: string }) => {
  if (message.type !== 'status') return
  daemon.status().then(
    (status) => process.send?.({ type: 'status', meshPeers: status.realms[config.realm]?.meshPeers ?? 0 }),
    (err: Error) => process.send?.({ type: 'status', error: err.message }),
  )
})
const stop = async (): Promise<void> => {
  await daemon.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('disconnect', stop)
process.send?.({ type: 'ready', seedAddr: `${listen}/p2p/${(await daemon.status()).peerId}` })
