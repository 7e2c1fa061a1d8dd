/**
 * The only version this build writes and reads. 2: batches carry their origin's signature over a
 * manifest of record digests, and sync carries the proofs that authenticate each record.
 */
export const WIRE_VERSION = 2

/** Ed25519 signatures: tlsmesh identities are Ed25519 keys. */
export const SIGNATURE_BYTES = 64

/** Hard limits a decoder enforces; a builder or encoder holding the same limits never exceeds them. */
export interface WireLimits {
  /** Whole encoded message, checked before anything is decoded. */
  maxMessageBytes: number
  /** Records per batch; decoding stops before it allocates one more. */
  maxRecords: number
  /** Session ids are up to 32 bytes (TLS) and memcached keys up to 250. */
  maxIdBytes: number
  /** A serialized session. */
  maxValueBytes: number
  /** Realm names, `[A-Za-z0-9._-]`. */
  maxRealmBytes: number
  /** Origin peer ids: an Ed25519 peer id is 52 characters, an RSA one 46; this leaves room for others. */
  maxOriginBytes: number
}

export const DEFAULT_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxRecords: 4096,
  maxIdBytes: 250,
  maxValueBytes: 16 * 1024,
  maxRealmBytes: 64,
  maxOriginBytes: 128,
})
