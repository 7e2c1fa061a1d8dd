import type { MultiaddrConnection, StreamCloseEvent } from '@libp2p/interface'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { PRE_KEY_DEADLINE_MS } from '../src/constants.ts'
import { ManualClock } from '../src/manual-clock.ts'
import { generateMeshKey } from '../src/mesh-key.ts'
import {
  addressKey,
  createPreKeyAdmission,
  PRE_KEY_REFUSALS,
  PreKeyAdmission,
  type PreKeyAdmissionInit,
  type PreKeyRefusal,
  PreKeyRefusedError,
} from '../src/pre-key-admission.ts'
import { createPrivateNetworkProtector } from '../src/private-network.ts'

/** An admission on manual timers, and each admitted connection's abort error (if aborted). */
function admissionWith(init: Partial<PreKeyAdmissionInit>) {
  const clock = new ManualClock()
  const admission = new PreKeyAdmission(init, { clock })
  const aborted: Array<PreKeyRefusal | undefined> = []
  const admit = (host: string) => {
    const index = aborted.push(undefined) - 1
    return admission.admit(host, (err) => {
      aborted[index] = (err as PreKeyRefusedError).code
    })
  }
  return { admission, clock, aborted, admit }
}

const refusals = (admission: PreKeyAdmission) => Object.fromEntries(admission.refused)

describe('PreKeyAdmission', () => {
  it('pushes out the oldest unproven connection of an address at its cap, not the newcomer', () => {
    const { admission, aborted, admit } = admissionWith({ maxPerAddress: 3, maxPending: 100 })
    for (let i = 0; i < 3; i++) admit('10.0.0.1')
    admit('10.0.0.2')
    expect(aborted).toEqual([undefined, undefined, undefined, undefined])
    admit('10.0.0.1')
    admit('10.0.0.1')
    expect(aborted).toEqual(['address-cap', 'address-cap', undefined, undefined, undefined, undefined])
    expect(admission.pendingFrom('10.0.0.1')).toBe(3)
    expect(admission.pendingFrom('10.0.0.2')).toBe(1)
    expect(refusals(admission)).toEqual({ 'address-cap': 2 })
  })

  it('pushes out the oldest of all at the pending cap, whatever its address', () => {
    const { admission, aborted, admit } = admissionWith({ maxPerAddress: 10, maxPending: 4 })
    for (const host of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']) admit(host)
    admit('10.0.0.9')
    expect(aborted).toEqual(['pending-cap', undefined, undefined, undefined, undefined])
    expect(admission.pending).toBe(4)
    expect(admission.pendingFrom('10.0.0.1')).toBe(1)
    expect(refusals(admission)).toEqual({ 'pending-cap': 1 })
  })

  it('drops a connection silent past the deadline; one that proved the key is left alone', () => {
    const { admission, clock, aborted, admit } = admissionWith({ deadlineMs: 2000 })
    const silent = admit('10.0.0.1')
    const keyHolder = admit('10.0.0.1')
    keyHolder.proven()
    expect(clock.pending).toBe(1)
    clock.advance(1999)
    expect(aborted).toEqual([undefined, undefined])
    clock.advance(1)
    expect(aborted).toEqual(['deadline', undefined])
    expect(admission.pending).toBe(0)
    // Its close handler releases it afterwards: nothing more is counted.
    silent.release()
    keyHolder.release('key-mismatch')
    expect(refusals(admission)).toEqual({ deadline: 1 })
  })

  it('counts a connection released for another key once, and frees its place', () => {
    const { admission, clock, aborted, admit } = admissionWith({ maxPerAddress: 1 })
    const wrongKey = admit('10.0.0.1')
    wrongKey.release('key-mismatch')
    wrongKey.release('key-mismatch')
    wrongKey.release()
    admit('10.0.0.1')
    expect(aborted).toEqual([undefined, undefined])
    expect(clock.pending).toBe(1)
    expect(refusals(admission)).toEqual({ 'key-mismatch': 1 })
  })

  it('a dropped connection whose abort releases it at once is still counted once', () => {
    const admission = new PreKeyAdmission({ maxPerAddress: 1 }, { clock: new ManualClock() })
    const tickets: Array<ReturnType<PreKeyAdmission['admit']>> = []
    const admitReleasingOnAbort = () => {
      const ticket = admission.admit('10.0.0.1', () => ticket.release('key-mismatch'))
      tickets.push(ticket)
    }
    admitReleasingOnAbort()
    admitReleasingOnAbort()
    expect(refusals(admission)).toEqual({ 'address-cap': 1 })
    expect(admission.pending).toBe(1)
  })

  it('treats an IPv6 /64 as one address, and an IPv4-mapped address as IPv4', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('2001:db8:1:2:a:b:c:d')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:DB8:1:2::1')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    const { admission, aborted, admit } = admissionWith({ maxPerAddress: 2 })
    for (const host of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3', '2001:db8:1:3::1']) {
      admit(host)
    }
    expect(aborted).toEqual(['address-cap', undefined, undefined, undefined])
    expect(admission.pendingFrom('2001:db8:1:2::99')).toBe(2)
  })

  it('refuses limits that are not whole numbers of at least 1', () => {
    expect(() => new PreKeyAdmission({ maxPerAddress: 0 })).toThrow(/maxPerAddress/)
    expect(() => new PreKeyAdmission({ deadlineMs: 1.5 })).toThrow(/deadlineMs/)
  })

  it('exports tlsmesh_mesh_prekey_refused_total with every reason', async () => {
    const registry = new Registry()
    const clock = new ManualClock()
    const admission = createPreKeyAdmission({ registry, clock }, { maxPerAddress: 1 })
    admission.admit('10.0.0.1', () => {})
    admission.admit('10.0.0.1', () => {})
    clock.advance(PRE_KEY_DEADLINE_MS)
    const metric = await registry.getSingleMetricAsString('tlsmesh_mesh_prekey_refused_total')
    for (const reason of PRE_KEY_REFUSALS) {
      const count = reason === 'address-cap' || reason === 'deadline' ? 1 : 0
      expect(metric).toContain(`tlsmesh_mesh_prekey_refused_total{reason="${reason}"} ${count}`)
    }
  })
})

const MULTISTREAM_HEADER = new TextEncoder().encode('\x13/multistream/1.0.0\n')

/** Resolves with the error a connection closes with (undefined for a clean close). */
const closed = (connection: MultiaddrConnection): Promise<Error | undefined> =>
  new Promise((resolve) =>
    connection.addEventListener('close', (event: StreamCloseEvent) => resolve(event.error), { once: true }),
  )

/** An inbound connection from `host`, and the dialer's end of it. */
function inboundFrom(host: string): [MultiaddrConnection, MultiaddrConnection] {
  const [outbound, inbound] = multiaddrConnectionPair({
    inbound: { remoteAddr: multiaddr(`/ip4/${host}/tcp/40000`) },
  })
  return [outbound, inbound]
}

describe('the private-network protector with an admission', () => {
  it('drops an inbound connection that sends nothing at the deadline', async () => {
    const admission = new PreKeyAdmission({ deadlineMs: 50 })
    const protector = createPrivateNetworkProtector({ psk: generateMeshKey(), admission })()
    const [, inbound] = inboundFrom('10.0.0.1')
    const started = Date.now()
    await expect(protector.protect(inbound)).rejects.toMatchObject({
      name: PreKeyRefusedError.name,
      code: 'deadline',
    })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(inbound.status).toBe('aborted')
    expect(admission.pending).toBe(0)
    expect(refusals(admission)).toEqual({ deadline: 1 })
  })

  it('drops one that sends its nonce but nothing it could only send with the key', async () => {
    const psk = generateMeshKey()
    const admission = new PreKeyAdmission({ deadlineMs: 100 })
    const [outbound, inbound] = inboundFrom('10.0.0.1')
    const [, b] = await Promise.all([
      createPrivateNetworkProtector({ psk })().protect(outbound),
      createPrivateNetworkProtector({ psk, admission })().protect(inbound),
    ])
    expect(await closed(b as MultiaddrConnection)).toMatchObject({ code: 'deadline' })
    expect(refusals(admission)).toEqual({ deadline: 1 })
  })

  it('a key holder leaves the unproven set with its first message and outlives the deadline', async () => {
    const psk = generateMeshKey()
    const admission = new PreKeyAdmission({ deadlineMs: 100 })
    const [outbound, inbound] = inboundFrom('10.0.0.1')
    const [a, b] = await Promise.all([
      createPrivateNetworkProtector({ psk })().protect(outbound),
      createPrivateNetworkProtector({ psk, admission })().protect(inbound),
    ])
    expect(admission.pending).toBe(1)
    a.send(MULTISTREAM_HEADER.subarray(0, 5))
    a.send(MULTISTREAM_HEADER.subarray(5))
    await new Promise((r) => setTimeout(r, 300))
    expect(admission.pending).toBe(0)
    expect(b.status).toBe('open')
    expect(admission.refused.size).toBe(0)
    await Promise.all([a.close(), b.close()])
  })

  it('counts a peer with another key, and never admits outbound connections', async () => {
    const admission = new PreKeyAdmission()
    const [outbound, inbound] = inboundFrom('10.0.0.1')
    const [a, b] = await Promise.all([
      createPrivateNetworkProtector({ psk: generateMeshKey(), admission })().protect(outbound),
      createPrivateNetworkProtector({ psk: generateMeshKey(), admission })().protect(inbound),
    ])
    expect(admission.pending).toBe(1)
    const bClosed = closed(b as MultiaddrConnection)
    a.send(MULTISTREAM_HEADER)
    expect(await bClosed).toMatchObject({ name: 'PrivateNetworkKeyMismatchError' })
    expect(admission.pending).toBe(0)
    expect(refusals(admission)).toEqual({ 'key-mismatch': 1 })
  })

  it('a newcomer over the address cap pushes the oldest silent connection out', async () => {
    const admission = new PreKeyAdmission({ maxPerAddress: 2 })
    const protector = createPrivateNetworkProtector({ psk: generateMeshKey(), admission })()
    const attempts = ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.1'].map((host) => {
      const [, inbound] = inboundFrom(host)
      return { inbound, result: protector.protect(inbound).catch((err: PreKeyRefusedError) => err.code) }
    })
    expect(await attempts[0]!.result).toBe('address-cap')
    expect(attempts.map((a) => a.inbound.status)).toEqual(['aborted', 'open', 'open', 'open'])
    expect(admission.pending).toBe(3)
    for (const { inbound } of attempts) inbound.abort(new Error('test over'))
    expect(admission.pending).toBe(0)
  })
})
