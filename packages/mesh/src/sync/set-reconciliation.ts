import type { RecordProof, SessionRecord } from '@tlsmesh/store'
import {
  MAX_SYNC_DEPTH,
  type ProvenWireRecord,
  SyncKind,
  type SyncMessage,
  type SyncRange,
} from '@tlsmesh/wire'
import type { DigestItem, KeyRangeDigest } from './key-range.ts'
import { syncKeyOf } from './sync-keys.ts'

/** Ranges with at most this many records on the responder's side are listed item by item. */
export const LIST_THRESHOLD = 16
const FANOUT = 16n
/** Records per RECORDS message, by bytes: well under the sync message cap of 4 MiB. */
const PAGE_BYTES = 2 * 1024 * 1024
const PAGE_RECORDS = 4000
/** Room kept for a record's proof: a batch of 64 records' digests and the signature. */
const PROOF_ALLOWANCE = 64 * 16 + 64 + 64
const PAGE_WANTED = 8000
/** This side's items of a listed range are read this many at most at a time (~1 ms of work). */
const PART_ITEMS = 4096
/** A reconciliation needs at most 16 query rounds (the key is 64 bits, 4 per level), then pages. */
export const MAX_ROUNDS = 64

export interface ReconciliationResult {
  rounds: number
  /** Records this side sent. */
  pushed: number
  /** Records this side received. */
  pulled: number
  /** Ranges that differed, over all rounds. */
  differingRanges: number
}

export interface ReconciliationSide {
  realm: string
  /** Read by range, at each step: it may change between round trips (see KeyRangeDigest). */
  digest: KeyRangeDigest
  /**
   * Stores the records of a RECORDS message from the peer; `requested` says which keys this side
   * asked for. Throws on a record the peer had no business sending (forged, unrequested): the
   * reconciliation ends there.
   */
  receive(message: SyncMessage, requested: (key: bigint) => boolean): void
  /** Key ranges this side listed item by item in its answers: the peer may push records in them. */
  listed?: ListedRanges
}

/** The ranges a responder listed: a pushed record whose key is in none of them was not asked for. */
export class ListedRanges {
  private readonly byDepth = new Map<number, Set<bigint>>()

  add(depth: number, prefix: bigint): void {
    let prefixes = this.byDepth.get(depth)
    if (prefixes === undefined) {
      prefixes = new Set()
      this.byDepth.set(depth, prefixes)
    }
    prefixes.add(prefix)
  }

  covers(key: bigint): boolean {
    for (const [depth, prefixes] of this.byDepth) {
      if (prefixes.has(depth === 0 ? 0n : key >> BigInt(64 - depth * 4))) return true
    }
    return false
  }
}

/**
 * Records as sync sends them: each with the proof of the batch its origin published it in, each
 * proof once per message. A record without a proof yet (written here, its batch not signed yet) is
 * left for the next reconciliation: nobody could check it.
 */
export class RecordPage {
  readonly records: ProvenWireRecord[] = []
  readonly proofs: RecordProof[] = []
  private readonly proofIndex = new Map<RecordProof, number>()
  bytes = 0

  add(record: SessionRecord): boolean {
    const { proof } = record
    if (proof === undefined) return false
    let index = this.proofIndex.get(proof)
    if (index === undefined) {
      index = this.proofs.length
      this.proofs.push(proof)
      this.proofIndex.set(proof, index)
      this.bytes += proof.signature.byteLength + proof.digests.byteLength + proof.origin.length
    }
    const wire: ProvenWireRecord = {
      id: record.id,
      created: record.created,
      expires: record.expires,
      origin: record.origin,
      proof: index,
    }
    if (record.value !== undefined) wire.value = record.value
    this.records.push(wire)
    this.bytes += recordBytes(record)
    return true
  }

  /** Whether one more record could take the page over its caps (proofs may add to it). */
  full(next: SessionRecord): boolean {
    return (
      this.records.length >= PAGE_RECORDS ||
      (this.records.length > 0 && this.bytes + recordBytes(next) + PROOF_ALLOWANCE > PAGE_BYTES)
    )
  }
}

function recordBytes(record: SessionRecord): number {
  return record.id.byteLength + (record.value?.byteLength ?? 0) + record.origin.length + 32
}

function rangeOf(digest: KeyRangeDigest, depth: number, prefix: bigint): SyncRange {
  return { depth, prefix, ...digest.range(depth, prefix) }
}

/**
 * Fills `page` with the records held under `keys`, from `keys[from]` on, each key's records whole;
 * returns where the next page starts. Records are looked up now, not when they were found to
 * differ: a record replaced, evicted or expired since is not sent.
 */
function fillPage(page: RecordPage, digest: KeyRangeDigest, keys: readonly bigint[], from: number): number {
  let next = from
  for (; next < keys.length; next++) {
    const records = digest.recordsWithKey(keys[next]!)
    if (records.some((record) => page.full(record))) break
    for (const record of records) page.add(record)
  }
  return next
}

/**
 * The responder's half of a QUERY: the ranges whose fingerprint or count differ from the
 * initiator's, listed item by item when small (or at the deepest level), else as bare fingerprints
 * for the initiator to split further.
 */
export function answerQuery(side: ReconciliationSide, query: SyncMessage): SyncMessage {
  const ranges: SyncRange[] = []
  for (const theirs of query.ranges) {
    const mine = rangeOf(side.digest, theirs.depth, theirs.prefix)
    if (mine.fingerprint === theirs.fingerprint && mine.count === theirs.count) continue
    if (mine.count <= LIST_THRESHOLD || theirs.depth >= MAX_SYNC_DEPTH) {
      mine.items = side.digest.items(theirs.depth, theirs.prefix)
      side.listed?.add(theirs.depth, theirs.prefix)
    }
    ranges.push(mine)
  }
  return { kind: SyncKind.ANSWER, realm: side.realm, ranges, records: [], proofs: [], wanted: [] }
}

/**
 * The responder's half of a RECORDS message: store what came (only in ranges it listed), send back
 * what was wanted (a page).
 */
export function answerRecords(side: ReconciliationSide, message: SyncMessage): SyncMessage {
  const listed = side.listed
  side.receive(message, (key) => listed?.covers(key) === true)
  const page = new RecordPage()
  fillPage(page, side.digest, message.wanted, 0)
  return {
    kind: SyncKind.RECORDS,
    realm: side.realm,
    ranges: [],
    records: page.records,
    proofs: page.proofs,
    wanted: [],
  }
}

/**
 * Compares a range the responder listed with this side's keys in it: this side's that differ go to
 * `push`, the responder's that this side lacks (in that version) to `wanted`.
 */
async function compareListed(
  digest: KeyRangeDigest,
  range: SyncRange,
  items: ReadonlyArray<DigestItem>,
  push: bigint[],
  wanted: Set<bigint>,
): Promise<void> {
  const theirs = new Map<bigint, bigint>()
  for (const item of items) theirs.set(item.key, item.fingerprint)
  const same = new Set<bigint>()
  await forEachPart(digest, range.depth, range.prefix, (mine) => {
    for (const { key, fingerprint } of mine) {
      if (theirs.get(key) === fingerprint) same.add(key)
      // Items come by key: a key held twice (a 64-bit collision) is pushed once, with both records.
      else if (push.at(-1) !== key) push.push(key)
    }
  })
  for (const key of theirs.keys()) {
    if (!same.has(key)) wanted.add(key)
  }
}

/**
 * Reads this side's items of a range in parts of at most PART_ITEMS, each read whole, with the event
 * loop served between parts: a peer that holds almost nothing lists ranges that hold much of this
 * side's realm (all of it, for an empty peer), and reading 1,000,000 items at once is a stall.
 */
async function forEachPart(
  digest: KeyRangeDigest,
  depth: number,
  prefix: bigint,
  visit: (items: DigestItem[]) => void,
): Promise<void> {
  if (depth >= MAX_SYNC_DEPTH || digest.range(depth, prefix).count <= PART_ITEMS) {
    visit(digest.items(depth, prefix))
    return
  }
  for (let child = 0n; child < FANOUT; child++) {
    await forEachPart(digest, depth + 1, prefix * FANOUT + child, visit)
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/**
 * The initiator: narrows the differing key ranges round by round (16 children per differing range),
 * then sends what the responder lacks and fetches what it lacks, in pages. The bytes exchanged grow
 * with the number of differing records times the depth (log16 of the replica size), not with the
 * replica's size.
 */
export async function reconcile(
  side: ReconciliationSide,
  exchange: (message: SyncMessage) => Promise<SyncMessage>,
): Promise<ReconciliationResult> {
  const result: ReconciliationResult = { rounds: 0, pushed: 0, pulled: 0, differingRanges: 0 }
  const { digest, realm } = side
  /** Keys whose records the responder lacks or holds another version of. */
  const push: bigint[] = []
  const wanted = new Set<bigint>()
  let queries: SyncRange[] = [rangeOf(digest, 0, 0n)]

  while (queries.length > 0) {
    if (++result.rounds > MAX_ROUNDS) throw new Error('set reconciliation did not converge')
    const answer = await exchange({
      kind: SyncKind.QUERY,
      realm,
      ranges: queries,
      records: [],
      proofs: [],
      wanted: [],
    })
    if (answer.kind !== SyncKind.ANSWER) throw new Error(`expected ANSWER, got ${answer.kind}`)
    queries = []
    for (const theirs of answer.ranges) {
      result.differingRanges++
      if (theirs.items !== undefined) {
        await compareListed(digest, theirs, theirs.items, push, wanted)
      } else if (theirs.depth < MAX_SYNC_DEPTH) {
        for (let child = 0n; child < FANOUT; child++) {
          queries.push(rangeOf(digest, theirs.depth + 1, theirs.prefix * FANOUT + child))
        }
      }
    }
  }

  // Records both ways, in pages; the responder answers each page with (part of) what it wants back.
  let pushIndex = 0
  const wantedList = [...wanted]
  let wantedIndex = 0
  while (pushIndex < push.length || wantedIndex < wantedList.length) {
    if (++result.rounds > MAX_ROUNDS * 64) throw new Error('set reconciliation: too many record pages')
    const out = new RecordPage()
    pushIndex = fillPage(out, digest, push, pushIndex)
    const page = wantedList.slice(wantedIndex, wantedIndex + PAGE_WANTED)
    const asked = new Set(page)
    const answer = await exchange({
      kind: SyncKind.RECORDS,
      realm,
      ranges: [],
      records: out.records,
      proofs: out.proofs,
      wanted: page,
    })
    if (answer.kind !== SyncKind.RECORDS) throw new Error(`expected RECORDS, got ${answer.kind}`)
    result.pushed += out.records.length
    side.receive(answer, (key) => asked.has(key))
    const received = new Set<bigint>()
    for (const record of answer.records) {
      received.add(syncKeyOf(record.id))
      result.pulled++
    }
    // Keys the responder did not fit in this page are asked for again; keys it no longer has are not.
    const unanswered = page.filter((key) => !received.has(key))
    const progressed = answer.records.length > 0
    wantedIndex += page.length
    if (progressed && unanswered.length > 0) {
      wantedList.push(...unanswered)
    }
  }
  return result
}
