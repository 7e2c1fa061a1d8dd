import type { RecordProof, SessionRecord } from '../src/session-record.ts'

/** A fixed clock reading for tests: far from 0 so that `now - x` stays positive. */
export const NOW = 1_700_000_000_000

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** A live record created at NOW by 'peer-a', expiring in 5 minutes, unless overridden. */
export function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    realm: 'web',
    id: bytes('session-1'),
    value: bytes('secret-1'),
    created: NOW,
    expires: NOW + 300_000,
    origin: 'peer-a',
    ...overrides,
  }
}

export function tombstone(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const { value: _value, ...rest } = record(overrides)
  return rest
}

/** A stand-in proof: the store keeps proofs and never reads them, so any bytes will do. */
export function proof(origin = 'peer-a', fill = 1): RecordProof {
  return { origin, signature: new Uint8Array(64).fill(fill), digests: new Uint8Array(16).fill(fill) }
}
