import { payloadBytes, type RecordProof, type SessionRecord } from '@tlsmesh/store'
import {
  DEFAULT_SYNC_LIMITS,
  MAX_SYNC_DEPTH,
  type ProvenWireRecord,
  SyncKind,
  type SyncMessage,
  type SyncProofTable,
  type SyncRange,
} from '@tlsmesh/wire'
import type { DigestItem, KeyRangeDigest } from './key-range.ts'
import { nextTurn, TimeSlice } from './time-slice.ts'

/** Ranges with at most this many records on the responder's side are listed item by item. */
export const LIST_THRESHOLD = 16
/**
 * A range the initiator holds at most LIST_THRESHOLD records of is listed up to this many items (all
 * a range may carry on the wire): at most LIST_THRESHOLD of them can be keys the initiator has, and it
 * wants the rest, so the listing wastes no more than a small range's and spares a level of splitting.
 * An empty node catching up gets 1,000,000 records listed at depth 4 (about 15 a range), where the
 * plain threshold would split a third of those ranges again.
 */
const LIST_SPARSE = DEFAULT_SYNC_LIMITS.maxItemsPerRange
/** Ranges per QUERY: a peer's decoder refuses a message with more. */
const QUERY_RANGES = DEFAULT_SYNC_LIMITS.maxRanges
/**
 * Items one ANSWER lists at most: about 45 KB, some 6 ms to encode or decode (about 3 us an item) in
 * a process that answers TLS resumptions meanwhile; 16,384 stall a responder for 30-50 ms a message
 * (bench/stall.ts, catch-up at 100,000 records). A range past it is answered bare, for the initiator
 * to split; the initiator sizes its queries to stay under it. More round trips cost little on a LAN.
 */
export const ANSWER_ITEMS = 2048
const FANOUT = 16n
/**
 * Records per RECORDS message, by bytes: a page is read, encoded and sent in one turn of the
 * responder's event loop, and decoded, checked and stored in one of the initiator's, so it stays
 * small: 128 sessions of 250 bytes take 2-6 ms to fill and send, where 500 took 5-25 ms on the
 * responder (bench/stall.ts, catch-up at 100,000 and 1,000,000 records). The price is round trips:
 * an empty node pulling 1,000,000 records makes about 7,000 instead of 1,800 (BENCHMARKS 4c).
 */
const PAGE_BYTES = 64 * 1024
const PAGE_RECORDS = 128
/** Room kept for a record's proof: a batch of 64 records' digests and the signature. */
const PROOF_ALLOWANCE = 64 * 16 + 64 + 64
/** A proof the peer has already, sent as its number. */
const NUMBERED_PROOF_BYTES = 8
const PAGE_WANTED = 256
/** Record pages in flight at once within a session (see Initiator's #exchangeRecords). */
const PIPELINE = 8
/** This side's items of a listed range are read this many at most at a time (~1 ms of work). */
const PART_ITEMS = 4096
/** The initiator works through an answer this long at most before it serves the event loop. */
const SLICE_MS = 4
/**
 * Round trips (queries and record pages) one reconciliation may take: a backstop that ends a session
 * a peer keeps going, whose deadlines bound it in time. An empty node pulling 1,000,000 records takes
 * about 8,000 (record pages of 128 and the queries to find them).
 */
export const MAX_ROUNDS = 65_536

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
   * asked for, and is called with every record's key, in order, before the record is stored (the
   * initiator learns from it which keys came). Throws on a record the peer had no business sending
   * (forged, unrequested): the reconciliation ends there.
   */
  receive(message: SyncMessage, requested: (key: bigint) => boolean): void
  /** Key ranges this side listed item by item in its answers: the peer may push records in them. */
  listed?: ListedRanges
  /**
   * The proofs this side's pages have carried in full within the session, numbered as the encoder
   * numbers them, when the session numbers proofs (the encoder sends a numbered proof as its
   * number): a page counts such a proof as a few bytes, and adds those it carries in full.
   */
  paged?: SyncProofTable
}

/**
 * The ranges a responder listed: a pushed record whose key is in none of them was not asked for. A
 * prefix of up to 52 bits is kept as a number (a catch-up lists tens of thousands of ranges at depth
 * 4 or 5), a longer one as a BigInt.
 */
export class ListedRanges {
  readonly #byDepth = new Map<number, Set<number | bigint>>()

  add(depth: number, prefix: bigint): void {
    this.#prefixes(depth).add(depth <= NUMBER_DEPTH ? Number(prefix) : prefix)
  }

  /** `add`, the prefix given as its high and low 32-bit words. */
  addWords(depth: number, prefixHi: number, prefixLo: number): void {
    this.#prefixes(depth).add(
      depth <= NUMBER_DEPTH ? prefixHi * 2 ** 32 + prefixLo : (BigInt(prefixHi) << 32n) | BigInt(prefixLo),
    )
  }

  covers(key: bigint): boolean {
    for (const [depth, prefixes] of this.#byDepth) {
      const prefix = depth === 0 ? 0n : key >> BigInt(64 - depth * 4)
      if (prefixes.has(depth <= NUMBER_DEPTH ? Number(prefix) : prefix)) return true
    }
    return false
  }

  #prefixes(depth: number): Set<number | bigint> {
    let prefixes = this.#byDepth.get(depth)
    if (prefixes === undefined) {
      prefixes = new Set()
      this.#byDepth.set(depth, prefixes)
    }
    return prefixes
  }
}

/** The deepest range whose prefix (4 bits a level) a double holds exactly. */
const NUMBER_DEPTH = 13

/**
 * Records as sync sends them: each with the proof of the batch its origin published it in, each
 * proof once per message. A record without a proof yet (written here, its batch not signed yet) is
 * left for the next reconciliation: nobody could check it.
 */
export class RecordPage {
  readonly records: ProvenWireRecord[] = []
  readonly proofs: RecordProof[] = []
  readonly #proofIndex = new Map<RecordProof, number>()
  readonly #paged: SyncProofTable | undefined
  bytes = 0

  /** `paged`: the session's proofs carried in full so far (see ReconciliationSide), if it numbers them. */
  constructor(paged?: SyncProofTable) {
    this.#paged = paged
  }

  add(record: SessionRecord): boolean {
    const { proof } = record
    if (proof === undefined) return false
    let index = this.#proofIndex.get(proof)
    if (index === undefined) {
      index = this.proofs.length
      this.proofs.push(proof)
      this.#proofIndex.set(proof, index)
      if (this.#paged?.numberOf(proof) !== undefined) {
        this.bytes += NUMBERED_PROOF_BYTES
      } else {
        this.bytes += proof.signature.byteLength + proof.digests.byteLength + proof.origin.length
        // Every page goes out, in the order made: the encoder numbers this proof the same way.
        this.#paged?.add(proof)
      }
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

/** A record's bytes in a page, about: a stored record's id and value are copies made on each read. */
function recordBytes(record: SessionRecord): number {
  return payloadBytes(record) + record.origin.length + 32
}

function rangeOf(digest: KeyRangeDigest, depth: number, prefix: bigint): SyncRange {
  return { depth, prefix, ...digest.range(depth, prefix) }
}

/**
 * Fills `page` with the records held under `keys`, from `keys[from]` on, a key's records (whole) a
 * step; `next` is where the next page starts. Records are looked up now, not when they were found to
 * differ: a record replaced, evicted or expired since is not sent.
 */
class PageFill {
  readonly page: RecordPage
  readonly #digest: KeyRangeDigest
  readonly #keys: readonly bigint[]
  next: number

  constructor(page: RecordPage, digest: KeyRangeDigest, keys: readonly bigint[], from: number) {
    this.page = page
    this.#digest = digest
    this.#keys = keys
    this.next = from
  }

  /** Adds the next key's records; false once the keys are done or the page is full. */
  step(): boolean {
    if (this.next >= this.#keys.length) return false
    const records = this.#digest.recordsWithKey(this.#keys[this.next]!)
    if (records.some((record) => this.page.full(record))) return false
    for (const record of records) this.page.add(record)
    this.next++
    return true
  }
}

/** Fills `page` from `keys[from]` on (PageFill); returns where the next page starts. */
function fillPage(page: RecordPage, digest: KeyRangeDigest, keys: readonly bigint[], from: number): number {
  const fill = new PageFill(page, digest, keys, from)
  while (fill.step());
  return fill.next
}

/**
 * The responder's half of a QUERY: the ranges whose fingerprint or count differ from the
 * initiator's, listed item by item when small (or at the deepest level), else as bare fingerprints
 * for the initiator to split further. A query holds at most 4,096 ranges (the decoder's limit), and
 * the answer as many, its listings within ANSWER_ITEMS.
 */
export function answerQuery(side: ReconciliationSide, query: SyncMessage): SyncMessage {
  const answer = new QueryAnswer(side)
  for (const theirs of query.ranges) answer.add(theirs)
  return answer.message()
}

/**
 * answerQuery, handing the event loop back whenever `slice` is spent: a query of 4,096 ranges takes
 * 1-4 ms to answer at 100,000 records, a long turn for a thread that answers TLS resumptions. The
 * digest may change between turns; each range is read whole, as between an initiator's rounds.
 */
export async function answerQueryInSlices(
  side: ReconciliationSide,
  query: SyncMessage,
  slice: TimeSlice,
): Promise<SyncMessage> {
  const answer = new QueryAnswer(side)
  for (const theirs of query.ranges) {
    answer.add(theirs)
    if (slice.spent()) await slice.handBack()
  }
  return answer.message()
}

/** An answer to a query, range by range. */
class QueryAnswer {
  readonly #side: ReconciliationSide
  readonly #ranges: SyncRange[] = []
  #budget = ANSWER_ITEMS

  constructor(side: ReconciliationSide) {
    this.#side = side
  }

  add(theirs: SyncRange): void {
    const side = this.#side
    const mine = rangeOf(side.digest, theirs.depth, theirs.prefix)
    if (mine.fingerprint === theirs.fingerprint && mine.count === theirs.count) return
    if (listable(mine.count, theirs.depth, theirs.count, this.#budget)) {
      mine.items = side.digest.items(theirs.depth, theirs.prefix)
      this.#budget -= mine.items.length
      side.listed?.add(theirs.depth, theirs.prefix)
    }
    this.#ranges.push(mine)
  }

  message(): SyncMessage {
    return {
      kind: SyncKind.ANSWER,
      realm: this.#side.realm,
      ranges: this.#ranges,
      records: [],
      proofs: [],
      wanted: [],
    }
  }
}

/**
 * Whether the responder lists a range of depth `depth` it holds `count` records of, the initiator
 * `theirCount`, rather than have it split; `budget`: items the answer may list yet.
 */
export function listable(count: number, depth: number, theirCount: number, budget: number): boolean {
  // One key: nothing left to split (more than one record only on a 64-bit collision).
  if (depth >= MAX_SYNC_DEPTH) return true
  // An empty range takes no room.
  if (count > 0 && count > budget) return false
  return count <= LIST_THRESHOLD || (count <= LIST_SPARSE && theirCount <= LIST_THRESHOLD)
}

/**
 * The responder's half of a RECORDS message: store what came (only in ranges it listed), send back
 * what was wanted (a page).
 */
export function answerRecords(side: ReconciliationSide, message: SyncMessage): SyncMessage {
  const fill = startRecordsAnswer(side, message)
  while (fill.step());
  return recordsMessage(side.realm, fill.page)
}

/**
 * answerRecords, handing the event loop back whenever `slice` is spent: a page of 128 takes about
 * 0.25 ms to fill at 100,000 records, and a get that comes meanwhile waits for it. Each wanted key's
 * records are read whole; one replaced or gone between turns is sent as it is then, or not at all.
 */
export async function answerRecordsInSlices(
  side: ReconciliationSide,
  message: SyncMessage,
  slice: TimeSlice,
): Promise<SyncMessage> {
  const fill = startRecordsAnswer(side, message)
  while (fill.step()) if (slice.spent()) await slice.handBack()
  return recordsMessage(side.realm, fill.page)
}

/** Stores what a RECORDS message brought (only in ranges this side listed); the page to fill back. */
function startRecordsAnswer(side: ReconciliationSide, message: SyncMessage): PageFill {
  const listed = side.listed
  side.receive(message, (key) => listed?.covers(key) === true)
  return new PageFill(new RecordPage(side.paged), side.digest, message.wanted, 0)
}

function recordsMessage(realm: string, page: RecordPage): SyncMessage {
  return { kind: SyncKind.RECORDS, realm, ranges: [], records: page.records, proofs: page.proofs, wanted: [] }
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
  visit: (items: DigestItem[]) => Promise<void>,
): Promise<void> {
  if (depth >= MAX_SYNC_DEPTH || digest.range(depth, prefix).count <= PART_ITEMS) {
    await visit(digest.items(depth, prefix))
    return
  }
  for (let child = 0n; child < FANOUT; child++) {
    await forEachPart(digest, depth + 1, prefix * FANOUT + child, visit)
    await nextTurn()
  }
}

/** A differing range to split, and how many items the answer about its children likely lists. */
interface Split {
  range: SyncRange
  expected: number
}

/**
 * The items a responder holding `theirs.count` records of a range, against this side's `mine`, likely
 * lists when asked about its 16 children: all of them if a child of average size is listable, else
 * none (the children come back bare).
 */
function listedChildItems(theirs: SyncRange, mine: number): number {
  const child = Math.ceil(theirs.count / Number(FANOUT))
  const mineChild = Math.ceil(mine / Number(FANOUT))
  const listed = child <= LIST_THRESHOLD || (child <= LIST_SPARSE && mineChild <= LIST_THRESHOLD)
  return listed ? theirs.count : 0
}

/** A range's (depth, prefix) as one number: the prefix is below 2^64, the depth at most 16. */
function rangeId(range: SyncRange): bigint {
  return (range.prefix << 5n) | BigInt(range.depth)
}

/**
 * The initiator: narrows the differing key ranges round by round (16 children per differing range),
 * and sends what the responder lacks and fetches what it lacks, in pages, as soon as a page's worth
 * is known. The bytes exchanged grow with the number of differing records times the depth (log16 of
 * the replica size), not with the replica's size.
 *
 * Every message stays within the wire's limits and every step within a bounded amount of work: a
 * query holds at most 4,096 ranges (more wait for the next one), records go in pages, and this side's
 * part of a listed range is read in parts.
 */
class Initiator {
  readonly result: ReconciliationResult = { rounds: 0, pushed: 0, pulled: 0, differingRanges: 0 }
  readonly #side: ReconciliationSide
  readonly #exchange: (message: SyncMessage) => Promise<SyncMessage>
  readonly #slice = new TimeSlice(SLICE_MS)
  /**
   * Differing ranges the responder did not list, whose children are still to be asked about, the
   * deepest on top: taking from the top goes down first, which keeps at most one answer's worth
   * (4,096) pending per level, where going level by level would hold a whole level (65,536 ranges at
   * depth 4 for an empty node catching up 1,000,000 records).
   */
  readonly #splits: Split[] = []
  /** Keys whose records the responder lacks or holds another version of. */
  #push: bigint[] = []
  /** Keys the responder listed that this side lacks (in that version). */
  #wanted: bigint[] = []
  /** Record exchanges sent whose answers are not taken in yet, oldest first (at most PIPELINE). */
  readonly #inFlight: Array<Promise<void>> = []

  constructor(side: ReconciliationSide, exchange: (message: SyncMessage) => Promise<SyncMessage>) {
    this.#side = side
    this.#exchange = exchange
  }

  async run(): Promise<ReconciliationResult> {
    let queries = [rangeOf(this.#side.digest, 0, 0n)]
    while (queries.length > 0) {
      await this.#query(queries)
      queries = this.#nextQueries()
    }
    while (this.#push.length > 0 || this.#wanted.length > 0 || this.#inFlight.length > 0) {
      if (this.#push.length > 0 || this.#wanted.length > 0) await this.#exchangeRecords()
      else await this.#inFlight.shift()
    }
    return this.result
  }

  /**
   * The children of the ranges on top of `#splits`: as many as one query holds, and as many as the
   * responder can likely list in one answer, so that none are answered bare for want of room.
   */
  #nextQueries(): SyncRange[] {
    const queries: SyncRange[] = []
    const { digest } = this.#side
    let items = 0
    while (this.#splits.length > 0 && queries.length + Number(FANOUT) <= QUERY_RANGES) {
      const { range, expected } = this.#splits.at(-1)!
      if (queries.length > 0 && items + expected > ANSWER_ITEMS) break
      this.#splits.pop()
      items += expected
      for (let child = 0n; child < FANOUT; child++) {
        queries.push(rangeOf(digest, range.depth + 1, range.prefix * FANOUT + child))
      }
    }
    return queries
  }

  async #query(queries: SyncRange[]): Promise<void> {
    this.#countRound()
    const { realm } = this.#side
    const answer = await this.#exchange({
      kind: SyncKind.QUERY,
      realm,
      ranges: queries,
      records: [],
      proofs: [],
      wanted: [],
    })
    if (answer.kind !== SyncKind.ANSWER) throw new Error(`expected ANSWER, got ${answer.kind}`)
    // Only ranges just asked about, each once: what this side splits next is bounded by what it asked.
    const asked = new Map(queries.map((range) => [rangeId(range), range.count]))
    const bare: Split[] = []
    for (const theirs of answer.ranges) {
      const mine = asked.get(rangeId(theirs))
      if (mine === undefined) throw new Error('the answer names a range that was not asked about')
      asked.delete(rangeId(theirs))
      this.result.differingRanges++
      if (theirs.items !== undefined) await this.#compareListed(theirs, theirs.items)
      else if (theirs.depth < MAX_SYNC_DEPTH)
        bare.push({ range: theirs, expected: listedChildItems(theirs, mine) })
      await this.#slice.maybeYield()
    }
    bare.sort((a, b) => a.range.depth - b.range.depth)
    for (const split of bare) this.#splits.push(split)
  }

  /**
   * Compares a range the responder listed with this side's keys in it: this side's that differ go to
   * `#push`, the responder's that this side lacks (in that version) to `#wanted`. Full pages go out
   * between parts: an empty responder lists ranges that may hold all of this side's realm.
   */
  async #compareListed(range: SyncRange, items: ReadonlyArray<DigestItem>): Promise<void> {
    const theirs = new Map<bigint, bigint>()
    for (const item of items) theirs.set(item.key, item.fingerprint)
    const same = new Set<bigint>()
    await forEachPart(this.#side.digest, range.depth, range.prefix, async (mine) => {
      for (const { key, fingerprint } of mine) {
        if (theirs.get(key) === fingerprint) same.add(key)
        // Items come by key, a part holds whole keys: a key held twice (a 64-bit collision) is
        // pushed once, with both records.
        else if (this.#push.at(-1) !== key) this.#push.push(key)
      }
      await this.#sendFullPages()
    })
    for (const key of theirs.keys()) {
      if (!same.has(key)) this.#wanted.push(key)
    }
    await this.#sendFullPages()
  }

  /** Exchanges records while a page's worth waits either way: they move as the session goes. */
  async #sendFullPages(): Promise<void> {
    while (this.#push.length >= PAGE_RECORDS || this.#wanted.length >= PAGE_WANTED) {
      await this.#exchangeRecords()
    }
  }

  /**
   * One page of records each way; the responder answers with (part of) what this side wants. Up to
   * PIPELINE pages are in flight: the next goes out before the last answer is in, so that the
   * responder fills a page while this side stores the one before (an empty node pulls its replica
   * in hundreds of pages). Returns once fewer than PIPELINE are in flight.
   */
  async #exchangeRecords(): Promise<void> {
    this.#countRound()
    const { digest, realm } = this.#side
    const out = new RecordPage(this.#side.paged)
    this.#push = this.#push.slice(fillPage(out, digest, this.#push, 0))
    const page = this.#wanted.slice(0, PAGE_WANTED)
    this.#wanted = this.#wanted.slice(PAGE_WANTED)
    const taken = this.#exchange({
      kind: SyncKind.RECORDS,
      realm,
      ranges: [],
      records: out.records,
      proofs: out.proofs,
      wanted: page,
    }).then((answer) => this.#take(answer, out.records.length, page))
    // Awaited in turn below or by run(); a failure meanwhile must not go unhandled.
    taken.catch(() => {})
    this.#inFlight.push(taken)
    if (this.#inFlight.length >= PIPELINE) await this.#inFlight.shift()
  }

  #take(answer: SyncMessage, pushed: number, page: readonly bigint[]): void {
    if (answer.kind !== SyncKind.RECORDS) throw new Error(`expected RECORDS, got ${answer.kind}`)
    const asked = new Set(page)
    const received = new Set<bigint>()
    this.result.pushed += pushed
    this.#side.receive(answer, (key) => {
      received.add(key)
      return asked.has(key)
    })
    this.result.pulled += answer.records.length
    if (answer.records.length === 0) return
    // Keys the responder did not fit in this page are asked for again; keys it no longer has are not.
    for (const key of page) {
      if (!received.has(key)) this.#wanted.push(key)
    }
  }

  #countRound(): void {
    if (++this.result.rounds > MAX_ROUNDS) throw new Error('set reconciliation did not converge')
  }
}

/**
 * Reconciles `side` with the peer behind `exchange`, as the initiator (see Initiator). `exchange`
 * sends a message and resolves with the peer's answer to it; it is called again before an answer is
 * in (record pages are pipelined), so it sends in the order called and answers in that order.
 */
export function reconcile(
  side: ReconciliationSide,
  exchange: (message: SyncMessage) => Promise<SyncMessage>,
): Promise<ReconciliationResult> {
  return new Initiator(side, exchange).run()
}
