// Discovery by mDNS with no seeds (issue 5): node processes in separate network namespaces on one LAN
// (a veth pair each to a bridge, the multicast route 224.0.0.0/4 on the veth), each listening on
// 0.0.0.0. Two nodes with the same mesh key and name find each other and replicate sessions both ways;
// a node with another mesh key hears them (same service tag) but cannot connect (pnet), and a node with
// another mesh name (service tag) never even hears of them. An observer on the LAN asks for the
// service and reads what each node advertises: every private address, 127.0.0.1 included, unless the
// node is given `announce` addresses.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMeshKey } from '@tlsmesh/mesh'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNetnsLab, type NetnsLab, netnsUnavailableReason } from './lib/netns.ts'
import { NETNS_MESH_PORT, type NetnsNode, probeMdns, startNetnsNode, waitUntil } from './lib/netns-fleet.ts'

const unavailable = netnsUnavailableReason()
const REALM = 'web'
const MESH_NAME = 'default'
const SERVICE_TAG = `tlsmesh-${MESH_NAME}.local`
/** @libp2p/mdns queries on start and then every 10 s: an outsider gets a full cycle to try to join. */
const MDNS_QUERY_INTERVAL_MS = 10_000

describe.skipIf(unavailable !== undefined)(
  `mDNS discovery in network namespaces${unavailable !== undefined ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let lab: NetnsLab | undefined
    let dir: string | undefined
    const nodes: NetnsNode[] = []
    let discoveryMs = 0

    // Hosts: 0 announced (A), 1 default (B), 2 other mesh key (C), 3 other mesh name (D), 4 observer.
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tlsmesh-mdns-'))
      const meshKeyFile = join(dir, 'mesh.key')
      const otherKeyFile = join(dir, 'other.key')
      writeFileSync(meshKeyFile, generateMeshKey(), { mode: 0o600 })
      writeFileSync(otherKeyFile, generateMeshKey(), { mode: 0o600 })
      lab = createNetnsLab({ hosts: Array.from({ length: 5 }, () => ({ segment: 'lan' })), multicast: true })
      const h = lab.hosts
      const base = {
        meshKeyFile,
        meshName: MESH_NAME,
        listen: [`/ip4/0.0.0.0/tcp/${NETNS_MESH_PORT}`],
        seeds: [],
        mdns: true,
        realms: [REALM],
      }
      const announced = (i: number) => ({ announce: [`/ip4/${h[i]!.address}/tcp/${NETNS_MESH_PORT}`] })
      nodes.push(await startNetnsNode(h[0]!, { ...base, ...announced(0) }))
      nodes.push(await startNetnsNode(h[1]!, base))
      discoveryMs = await waitUntil(
        'the two nodes to find each other by mDNS',
        async () => (await nodes[0]!.status()).peers.includes(nodes[1]!.peerId),
        20_000,
      )
      console.log(`[mdns] discovered and connected ${discoveryMs} ms after the second node was ready`)
    }, 60_000)

    afterAll(async () => {
      await Promise.all(nodes.map((node) => node.stop()))
      lab?.destroy()
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    })

    it('two nodes with no seeds find each other and exchange sessions both ways', async () => {
      const [a, b] = nodes as [NetnsNode, NetnsNode]
      expect((await b.status()).peers).toContain(a.peerId)
      const fromA = await a.publish(REALM, 20)
      const fromB = await b.publish(REALM, 20)
      await waitUntil(
        'records to replicate both ways',
        async () => (await b.holds(REALM, fromA)) === 20 && (await a.holds(REALM, fromB)) === 20,
        10_000,
      )
      expect(discoveryMs).toBeLessThan(20_000)
    })

    it('a node with another mesh key or another mesh name never joins', async () => {
      const h = lab!.hosts
      const base = {
        meshName: MESH_NAME,
        listen: [`/ip4/0.0.0.0/tcp/${NETNS_MESH_PORT}`],
        seeds: [],
        mdns: true,
        realms: [REALM],
      }
      const otherKey = await startNetnsNode(h[2]!, { ...base, meshKeyFile: join(dir!, 'other.key') })
      nodes.push(otherKey)
      const otherName = await startNetnsNode(h[3]!, {
        ...base,
        meshKeyFile: join(dir!, 'mesh.key'),
        meshName: 'elsewhere',
      })
      nodes.push(otherName)
      const published = await nodes[0]!.publish(REALM, 5)
      // Each newcomer queries at once and answers the members' next query: one full cycle.
      await new Promise((resolve) => setTimeout(resolve, MDNS_QUERY_INTERVAL_MS + 1000))
      const [a, b] = [await nodes[0]!.status(), await nodes[1]!.status()]
      for (const outsider of [otherKey, otherName]) {
        const status = await outsider.status()
        expect(status.connectedPeers).toBe(0)
        expect(a.peers).not.toContain(outsider.peerId)
        expect(b.peers).not.toContain(outsider.peerId)
        expect(await outsider.holds(REALM, published)).toBe(0)
      }
      // The outsider with the mesh key of another fleet did hear the members (same service tag): what
      // kept it out is the private network, not discovery. The one with another mesh name heard nobody.
      expect(await otherKey.discovered()).toEqual(
        expect.arrayContaining([nodes[0]!.peerId, nodes[1]!.peerId]),
      )
      expect(await otherName.discovered()).toEqual([])
      // The members are still meshed with each other.
      expect(a.peers).toEqual([nodes[1]!.peerId])
    }, 40_000)

    it('advertises 127.0.0.1 by default and only the announced address with `announce`', async () => {
      const [a, b] = nodes as [NetnsNode, NetnsNode]
      const answers = await probeMdns(lab!.hosts[4]!, SERVICE_TAG)
      const advertised = (peerId: string): string[] =>
        answers
          .flatMap((answer) => answer.txt)
          .filter((txt) => txt.endsWith(`/p2p/${peerId}`))
          .map((txt) => txt.replace(/^dnsaddr=/, ''))
      const fromA = [...new Set(advertised(a.peerId))]
      const fromB = [...new Set(advertised(b.peerId))]
      console.log(`[mdns] advertised by the announced node: ${fromA.join(' ')}`)
      console.log(`[mdns] advertised by the default node: ${fromB.join(' ')}`)
      expect(fromA).toEqual([`/ip4/${a.host.address}/tcp/${NETNS_MESH_PORT}/p2p/${a.peerId}`])
      expect(fromB).toContain(`/ip4/127.0.0.1/tcp/${NETNS_MESH_PORT}/p2p/${b.peerId}`)
      expect(fromB).toContain(`/ip4/${b.host.address}/tcp/${NETNS_MESH_PORT}/p2p/${b.peerId}`)
      // The outsider with another mesh name answers for its own tag only.
      expect(advertised(nodes[3]!.peerId)).toEqual([])
    }, 30_000)
  },
)
