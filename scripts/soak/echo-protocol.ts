// A minimal echo protocol for the soak scripts: traffic through every layer of a connection
// (private network, Noise, yamux) whose every byte is checked on the way back.
import type { Connection, Libp2p, Stream, StreamMessageEvent } from '@libp2p/interface'

export const ECHO_PROTOCOL = '/tlsmesh/soak/echo/1.0.0'

/** Echoes whatever arrives until the remote closes its writable end. */
export async function handleEcho(libp2p: Libp2p): Promise<void> {
  await libp2p.handle(
    ECHO_PROTOCOL,
    (stream) => {
      stream.addEventListener('message', (event: StreamMessageEvent) => {
        try {
          stream.send(event.data)
        } catch {
          // the stream closed under us: nothing to echo to
        }
      })
      stream.addEventListener('remoteCloseWrite', () => {
        void stream.close().catch(() => {})
      })
    },
    { runOnLimitedConnection: true },
  )
}

/** Sends `payload` on a fresh echo stream and resolves with what came back (all of it, or it throws). */
export async function echo(
  connection: Connection,
  payload: Uint8Array,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const stream: Stream = await connection.newStream(ECHO_PROTOCOL, { signal })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void =>
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
      signal.addEventListener('abort', onAbort, { once: true })
      stream.addEventListener('message', (event: StreamMessageEvent) => {
        const bytes = event.data instanceof Uint8Array ? event.data : event.data.subarray()
        chunks.push(bytes)
        size += bytes.byteLength
        if (size >= payload.byteLength) {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
      })
      stream.addEventListener('close', (event) => {
        signal.removeEventListener('abort', onAbort)
        reject(event.error ?? new Error(`echo stream closed after ${size}/${payload.byteLength} bytes`))
      })
      stream.send(payload)
    })
  } finally {
    await stream.close({ signal }).catch(() => stream.abort(new Error('echo done')))
  }
  const echoed = Buffer.concat(chunks)
  if (Buffer.compare(echoed, payload) !== 0) throw new Error('echo came back different')
  return echoed
}
