// An mDNS observer on the lab LAN, run inside a namespace: sends one PTR query for a service tag, the
// way @libp2p/mdns asks, and prints (JSON, on stdout) every TXT record of the answers it hears within
// the given time: what a node advertises to anyone on the LAN.
//   ip netns exec NS node --import tsx netns-mdns-probe.ts <service tag> <listen ms>
import { createSocket } from 'node:dgram'

const MDNS_GROUP = '224.0.0.251'
const MDNS_PORT = 5353
const TYPE_PTR = 12
const TYPE_TXT = 16
const CLASS_IN = 1

export interface ProbeAnswer {
  /** The answering instance: `<peer name>.<service tag>`. */
  name: string
  /** TXT strings, e.g. `dnsaddr=/ip4/10.203.0.1/tcp/7645/p2p/12D3KooW...`. */
  txt: string[]
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((label) => label.length > 0)
  return Buffer.concat([
    ...parts.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'utf8')])),
    Buffer.from([0]),
  ])
}

function query(serviceTag: string): Buffer {
  const header = Buffer.alloc(12)
  header.writeUInt16BE(1, 4) // one question
  const question = Buffer.alloc(4)
  question.writeUInt16BE(TYPE_PTR, 0)
  question.writeUInt16BE(CLASS_IN, 2)
  return Buffer.concat([header, encodeName(serviceTag), question])
}

/** A (possibly compressed) name at `offset`; `next` is the offset after it in the record. */
function readName(packet: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = []
  let at = offset
  let next = -1
  // Pointers only go backwards in sane packets; the bound stops a loop in insane ones.
  for (let jumps = 0; jumps < 32; ) {
    const length = packet[at]
    if (length === undefined) throw new RangeError('name runs past the packet')
    if (length === 0) {
      if (next === -1) next = at + 1
      return { name: labels.join('.'), next }
    }
    if ((length & 0xc0) === 0xc0) {
      if (next === -1) next = at + 2
      at = ((length & 0x3f) << 8) | packet[at + 1]!
      jumps++
      continue
    }
    labels.push(packet.toString('utf8', at + 1, at + 1 + length))
    at += 1 + length
  }
  throw new RangeError('too many name pointers')
}

export function parseTxtAnswers(packet: Buffer): ProbeAnswer[] {
  if (packet.length < 12 || (packet.readUInt16BE(2) & 0x8000) === 0) return []
  const questions = packet.readUInt16BE(4)
  const records = packet.readUInt16BE(6) + packet.readUInt16BE(8) + packet.readUInt16BE(10)
  let at = 12
  for (let i = 0; i < questions; i++) at = readName(packet, at).next + 4
  const answers: ProbeAnswer[] = []
  for (let i = 0; i < records; i++) {
    const { name, next } = readName(packet, at)
    const type = packet.readUInt16BE(next)
    const length = packet.readUInt16BE(next + 8)
    const data = next + 10
    if (type === TYPE_TXT) {
      const txt: string[] = []
      for (let p = data; p < data + length; p += 1 + packet[p]!) {
        txt.push(packet.toString('utf8', p + 1, p + 1 + packet[p]!))
      }
      answers.push({ name, txt })
    }
    at = data + length
  }
  return answers
}

if (process.argv[1]?.endsWith('netns-mdns-probe.ts')) {
  const serviceTag = process.argv[2] ?? ''
  const listenMs = Number(process.argv[3] ?? 2000)
  const heard: ProbeAnswer[] = []
  const socket = createSocket({ type: 'udp4', reuseAddr: true })
  socket.on('message', (packet) => {
    try {
      for (const answer of parseTxtAnswers(packet)) {
        if (answer.name.endsWith(serviceTag)) heard.push(answer)
      }
    } catch {
      // Not a packet we can read: someone else's mDNS.
    }
  })
  socket.bind(MDNS_PORT, () => {
    socket.addMembership(MDNS_GROUP)
    socket.setMulticastTTL(255)
    socket.send(query(serviceTag), MDNS_PORT, MDNS_GROUP)
    setTimeout(() => {
      socket.close()
      process.stdout.write(`${JSON.stringify(heard)}\n`)
    }, listenMs)
  })
}
