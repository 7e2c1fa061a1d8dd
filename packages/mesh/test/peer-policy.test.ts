import { describe, expect, it } from 'vitest'
import { PeerPolicy, REFUSAL_MS, STRIKE_WINDOW_MS, STRIKES_TO_REFUSE } from '../src/peer-policy.ts'

// The policy decides from its own state and an injected clock; what it refuses is hung up on by
// whoever enforces it (here: a list).

const SELF = 'self'

function policyAt(init: { allowPeers?: string[]; realmSigners?: Record<string, string[]> } = {}) {
  const clock = { now: 1_000_000 }
  const refused: string[] = []
  let allowlistChanges = 0
  const policy = new PeerPolicy({ self: SELF, ...init }, { now: () => clock.now })
  policy.enforceWith(
    (peer) => refused.push(peer),
    () => allowlistChanges++,
  )
  return { policy, clock, refused, allowlistChanges: () => allowlistChanges }
}

describe('PeerPolicy', () => {
  it('refuses a member for a minute after its third bad message within a minute, then lets it back', () => {
    const { policy, clock, refused } = policyAt()
    for (let i = 1; i < STRIKES_TO_REFUSE; i++) policy.penalize('mallory', 'bad-signature')
    expect(policy.refuses('mallory')).toBe(false)
    expect(refused).toEqual([])
    policy.penalize('mallory', 'bad-signature')
    expect(policy.refuses('mallory')).toBe(true)
    expect(refused).toEqual(['mallory'])
    expect(policy.refuses('alice')).toBe(false)
    clock.now += REFUSAL_MS - 1
    expect(policy.refuses('mallory')).toBe(true)
    clock.now += 1
    expect(policy.refuses('mallory')).toBe(false)
  })

  it('forgets strikes older than the window: a rare bad message never adds up to a refusal', () => {
    const { policy, clock, refused } = policyAt()
    for (let i = 0; i < 10; i++) {
      policy.penalize('bob', 'invalid-payload')
      clock.now += STRIKE_WINDOW_MS / 2
    }
    expect(refused).toEqual([])
    expect(policy.refuses('bob')).toBe(false)
  })

  it('holds peers off the allowlist off the mesh and their records out, but never its own', () => {
    const { policy } = policyAt({ allowPeers: ['alice'] })
    expect(policy.refuses('alice')).toBe(false)
    expect(policy.refuses('mallory')).toBe(true)
    expect(policy.originAllowed('alice', 'web')).toBe(true)
    expect(policy.originAllowed('mallory', 'web')).toBe(false)
    expect(policy.originAllowed(SELF, 'web')).toBe(true)
    expect(policy.gossipScore('mallory')).toBeLessThan(-80)
    expect(policy.gossipScore('alice')).toBe(0)
  })

  it("lets only a realm's signers sign its records, on top of the allowlist", () => {
    const { policy } = policyAt({ realmSigners: { 'ticket-keys': ['alice'] } })
    expect(policy.originAllowed('alice', 'ticket-keys')).toBe(true)
    expect(policy.originAllowed('bob', 'ticket-keys')).toBe(false)
    expect(policy.originAllowed(SELF, 'ticket-keys')).toBe(false)
    expect(policy.originAllowed('bob', 'web')).toBe(true)
  })

  it('applies a new allowlist at once and tells its enforcer, so connected peers off it are dropped', () => {
    const { policy, allowlistChanges } = policyAt()
    expect(policy.refuses('bob')).toBe(false)
    policy.setAllowPeers(['alice'])
    expect(policy.refuses('bob')).toBe(true)
    expect(allowlistChanges()).toBe(1)
    policy.setAllowPeers(undefined)
    expect(policy.refuses('bob')).toBe(false)
  })

  it('turns refused peers away at the gate in both directions', async () => {
    const { policy } = policyAt({ allowPeers: ['alice'] })
    const gater = policy.gater()
    const peer = (id: string) => ({ toString: () => id }) as never
    expect(await gater.denyInboundEncryptedConnection?.(peer('mallory'), {} as never)).toBe(true)
    expect(await gater.denyOutboundEncryptedConnection?.(peer('mallory'), {} as never)).toBe(true)
    expect(await gater.denyDialPeer?.(peer('alice'))).toBe(false)
  })
})
