import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { RecordProof } from '@tlsmesh/store'
import {
  manifestBytes,
  RECORD_DIGEST_BYTES,
  recordDigest,
  recordDigests,
  SIGNATURE_BYTES,
  type WireRecord,
} from '@tlsmesh/wire'
import { LRUCache } from 'lru-cache'

// DER prefixes of an Ed25519 SubjectPublicKeyInfo and PKCS#8 private key (RFC 8410): node:crypto
// takes raw keys this way. One KeyObject per key, made once: importing a key per call (what
// @libp2p/crypto does) costs more than the signature check itself.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const ORIGIN_KEYS = 4096
/**
 * Proofs checked lately, by signature: the records of one batch arrive together (sync pages).
 * Bounded by bytes too: a key holder may sign proofs of 4,096 made-up digests each.
 */
const CHECKED_PROOFS = 8192
const CHECKED_PROOF_BYTES = 32 * 1024 * 1024
/** Proofs of up to this many digest bytes are searched; larger ones (a key holder's, say) are indexed. */
const SEARCHED_DIGEST_BYTES = 128 * RECORD_DIGEST_BYTES

/** A proof whose signature checked out; a large one's digests are indexed on the first lookup (sync only). */
export interface CheckedProof {
  readonly proof: RecordProof
  /** The digests as a Buffer, for a search (a batch's proof). */
  bytes?: Buffer
  /** The digests as a set, for a lookup (a proof of more than 128 digests). */
  digests?: ReadonlySet<string>
}

export interface SignedRecords {
  signature: Uint8Array
  proof: RecordProof
}

/**
 * Signs this node's batches and checks everyone else's records: the one place that decides whether
 * a record is its origin's. A batch's signature covers a manifest of its records' digests (see
 * @tlsmesh/wire record-digest.ts), so each record stays provable on its own after the batch is gone:
 * the replica keeps the proof beside it, and sync sends it along.
 */
export class RecordAuthenticator {
  readonly origin: string
  readonly #privateKey: KeyObject
  readonly #originKeys = new LRUCache<string, KeyObject | false>({ max: ORIGIN_KEYS })
  readonly #checked = new LRUCache<string, CheckedProof>({
    max: CHECKED_PROOFS,
    maxSize: CHECKED_PROOF_BYTES,
    // The digests twice (the proof's bytes, the set's strings) plus the entries' overhead.
    sizeCalculation: (checked) => checked.proof.digests.byteLength * 18 + 256,
  })
  /** Proof objects checked already (or equal to one that was), for as long as anything holds them. */
  readonly #checkedObjects = new WeakMap<RecordProof, { realm: string; checked: CheckedProof }>()

  constructor(privateKey: PrivateKey, origin: string) {
    if (privateKey.type !== 'Ed25519') throw new TypeError('a tlsmesh identity is an Ed25519 key')
    this.origin = origin
    this.#privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, privateKey.raw.subarray(0, 32)]),
      format: 'der',
      type: 'pkcs8',
    })
  }

  /** Signs a batch of this node's records. */
  sign(realm: string, records: readonly WireRecord[]): SignedRecords {
    const digests = recordDigests(records)
    const signature = new Uint8Array(sign(null, manifestBytes(realm, this.origin, digests), this.#privateKey))
    return { signature, proof: { origin: this.origin, signature, digests } }
  }

  /** The proof of a batch if `origin` signed it as it is; undefined for anything else. */
  verifyBatch(
    realm: string,
    origin: string,
    records: readonly WireRecord[],
    signature: Uint8Array,
  ): RecordProof | undefined {
    const proof: RecordProof = { origin, signature, digests: recordDigests(records) }
    return this.checkProof(realm, proof)?.proof
  }

  /**
   * The proof, checked (once: later calls with the same signature are answered from a cache, which
   * also hands back the first copy so that a replica shares one proof per batch), or undefined when
   * its origin did not sign it.
   */
  checkProof(realm: string, proof: RecordProof): CheckedProof | undefined {
    // A proof object seen before: a sync session names each batch's proof by number after its first
    // page, so the pages of a catch-up hand in the same few thousand objects again and again.
    const seen = this.#checkedObjects.get(proof)
    if (seen !== undefined && seen.realm === realm) return seen.checked
    if (proof.signature.byteLength !== SIGNATURE_BYTES) return undefined
    const cacheKey = `${realm}\0${proof.origin}\0${Buffer.from(proof.signature).toString('base64')}`
    const cached = this.#checked.get(cacheKey)
    if (cached !== undefined) {
      if (!equalBytes(cached.proof.digests, proof.digests)) return undefined
      this.#checkedObjects.set(proof, { realm, checked: cached })
      return cached
    }
    const key = this.#originKey(proof.origin)
    if (key === undefined) return undefined
    const manifest = manifestBytes(realm, proof.origin, proof.digests)
    if (!verify(null, manifest, key, proof.signature)) return undefined
    const checked: CheckedProof = { proof }
    this.#checked.set(cacheKey, checked)
    this.#checkedObjects.set(proof, { realm, checked })
    return checked
  }

  /** Whether a checked proof covers this exact record. */
  covers(checked: CheckedProof, record: WireRecord): boolean {
    const digest = recordDigest(record)
    if (checked.proof.digests.byteLength > SEARCHED_DIGEST_BYTES) {
      return digestSet(checked).has(Buffer.from(digest).toString('latin1'))
    }
    // A batch's few dozen digests: a native search costs less than a string made per lookup.
    checked.bytes ??= Buffer.from(
      checked.proof.digests.buffer,
      checked.proof.digests.byteOffset,
      checked.proof.digests.byteLength,
    )
    const at = checked.bytes.indexOf(digest)
    if (at < 0) return false
    return at % RECORD_DIGEST_BYTES === 0 || scan(checked.bytes, digest)
  }

  #originKey(origin: string): KeyObject | undefined {
    let key = this.#originKeys.get(origin)
    if (key === undefined) {
      key = importOriginKey(origin)
      this.#originKeys.set(origin, key)
    }
    return key === false ? undefined : key
  }
}

/** An Ed25519 peer id's public key as a KeyObject; false for anything else. */
function importOriginKey(origin: string): KeyObject | false {
  try {
    const publicKey = peerIdFromString(origin).publicKey
    if (publicKey?.type !== 'Ed25519') return false
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey.raw]), format: 'der', type: 'spki' })
  } catch {
    return false
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

function digestSet(checked: CheckedProof): ReadonlySet<string> {
  if (checked.digests !== undefined) return checked.digests
  const digests = new Set<string>()
  const all = checked.proof.digests
  for (let at = 0; at < all.byteLength; at += RECORD_DIGEST_BYTES) {
    digests.add(Buffer.from(all.buffer, all.byteOffset + at, RECORD_DIGEST_BYTES).toString('latin1'))
  }
  checked.digests = digests
  return digests
}

/**
 * Whether `digest` is one of the digests in `all`, digest by digest: for a proof whose bytes hold it
 * across two digests, which only a signer who made the digests up can arrange (searching on from
 * each such match could take quadratic time).
 */
function scan(all: Uint8Array, digest: Uint8Array): boolean {
  for (let at = 0; at < all.byteLength; at += RECORD_DIGEST_BYTES) {
    let i = 0
    while (i < RECORD_DIGEST_BYTES && all[at + i] === digest[i]) i++
    if (i === RECORD_DIGEST_BYTES) return true
  }
  return false
}
