// The memcached text protocol as a test speaks it to a tlsmeshd endpoint: one command over a fresh
// connection, its reply read up to an end marker, with a deadline.
import { connect } from 'node:net'

/** Sends `command` (whole lines) to 127.0.0.1:`port`; resolves with the reply once it matches `end`. */
export function memcachedCommand(port: number, command: string, end: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let reply = ''
    socket.setTimeout(5000, () => socket.destroy(new Error(`memcached ${command.split(' ')[0]}: timeout`)))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (end.test(reply)) {
        socket.end()
        resolve(reply)
      }
    })
    socket.on('error', reject)
    socket.write(command)
  })
}
