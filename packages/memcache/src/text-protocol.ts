import type { ByteQueue } from './byte-queue.ts'
import type { Hit, StoreCommand, StoreResult } from './cache-operations.ts'
import { MAX_KEY_BYTES } from './constants.ts'
import {
  type ConnectionOutput,
  classifyFailure,
  type EndpointContext,
  type ProtocolSession,
} from './endpoint-context.ts'
import type { StatLine, StatsGroup } from './endpoint-stats.ts'
import type { Command, ErrorReason } from './metrics.ts'
import { casUniqueOf } from './stored-value.ts'

const CR = 0x0d
const LF = 0x0a
const SPACE = 0x20

const reply = (line: string): Buffer => Buffer.from(`${line}\r\n`, 'latin1')
const CRLF = reply('')
const END = reply('END')
const ERROR = reply('ERROR')
const OK = reply('OK')
const DELETED = reply('DELETED')
const TOUCHED = reply('TOUCHED')
const NOT_FOUND = reply('NOT_FOUND')
const RESET = reply('RESET')
const VALUE_PREFIX = Buffer.from('VALUE ', 'latin1')
const STORE_REPLIES: Record<StoreResult, Buffer> = {
  stored: reply('STORED'),
  'not-stored': reply('NOT_STORED'),
  exists: reply('EXISTS'),
  'not-found': NOT_FOUND,
  'too-large': reply('SERVER_ERROR object too large for cache'),
}
const BAD_FORMAT = 'bad command line format'

/** memcached's vlen bound (INT_MAX - 2): an announced length past it cannot even be swallowed. */
const MAX_ANNOUNCED_BYTES = 0x7fff_fffd

/** Text command names, each with its `command` metric label. */
const TEXT_COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['get', 'get'],
  ['gets', 'gets'],
  ['gat', 'gat'],
  ['gats', 'gats'],
  ['set', 'set'],
  ['add', 'add'],
  ['replace', 'replace'],
  ['append', 'append'],
  ['prepend', 'prepend'],
  ['cas', 'cas'],
  ['delete', 'delete'],
  ['touch', 'touch'],
  ['incr', 'incr'],
  ['decr', 'decr'],
  ['version', 'version'],
  ['verbosity', 'verbosity'],
  ['flush_all', 'flush_all'],
  ['stats', 'stats'],
  ['quit', 'quit'],
])

/** `stats <group>`; `stats` alone is `general`, `stats reset` an action. */
const STATS_SUBCOMMANDS: ReadonlyMap<string, StatsGroup> = new Map<string, StatsGroup>([
  ['settings', 'settings'],
  ['items', 'items'],
  ['slabs', 'slabs'],
  ['sizes', 'sizes'],
])

interface PendingStore {
  command: StoreCommand
  key: Buffer
  flags: number
  exptime: number
  bytes: number
  cas: bigint
  noreply: boolean
}

/**
 * memcached's text protocol for one connection. A command line ends at `\n` (a `\r` before it is
 * dropped), tokens are separated by runs of spaces, a storage command's data block is exactly the
 * announced bytes followed by `\r\n`.
 *
 * Replies follow memcached 1.6: how many tokens each command takes (`ERROR` otherwise), which
 * extra tokens it ignores, and that a `noreply` last token silences every reply to the request,
 * errors and refusals included (a client that asked for none would read it as the next reply).
 *
 * Where memcached would read on after a broken storage command and take the value's bytes for
 * commands, this endpoint skips the announced bytes when it knows them, and closes the connection
 * when it does not (an unreadable length, a data block that does not end where announced): a
 * session value must never be executed as commands.
 */
export class TextProtocolSession implements ProtocolSession {
  readonly #ctx: EndpointContext
  readonly #out: ConnectionOutput
  #pending: PendingStore | undefined
  /** Bytes of a refused data block still to skip. */
  #swallow = 0
  /** How far the current incomplete line has been searched for `\n` already. */
  #scanned = 0

  constructor(ctx: EndpointContext, out: ConnectionOutput) {
    this.#ctx = ctx
    this.#out = out
  }

  process(queue: ByteQueue): void {
    const out = this.#out
    while (queue.length > 0 && !out.closed && !out.congested) {
      if (this.#swallow > 0) {
        const n = Math.min(this.#swallow, queue.length)
        queue.skip(n)
        this.#swallow -= n
        continue
      }
      const pending = this.#pending
      if (pending !== undefined) {
        if (queue.length < pending.bytes + 2) return
        if (queue.at(pending.bytes) !== CR || queue.at(pending.bytes + 1) !== LF) {
          this.#failAndClose('bad-data-chunk', 'CLIENT_ERROR bad data chunk')
          return
        }
        const data = queue.take(pending.bytes)
        queue.skip(2)
        this.#pending = undefined
        const started = this.#ctx.metrics.started()
        this.#completeStore(pending, data)
        this.#ctx.metrics.commandDone(pending.command, started)
        continue
      }
      const newline = queue.indexOf(LF, this.#scanned)
      if (newline === -1) {
        if (queue.length > this.#ctx.limits.maxLineBytes)
          this.#failAndClose('line-too-long', 'CLIENT_ERROR line too long')
        else this.#scanned = queue.length
        return
      }
      this.#scanned = 0
      if (newline > this.#ctx.limits.maxLineBytes) {
        this.#failAndClose('line-too-long', 'CLIENT_ERROR line too long')
        return
      }
      const line = queue.take(newline + 1)
      const end = newline > 0 && line[newline - 1] === CR ? newline - 1 : newline
      const started = this.#ctx.metrics.started()
      const command = this.#dispatch(tokenize(line.subarray(0, end)))
      // A storage command is timed when its data block has arrived.
      if (this.#pending === undefined) this.#ctx.metrics.commandDone(command, started)
    }
  }

  /** Runs one command line; returns its `command` label. */
  #dispatch(tokens: Buffer[]): Command {
    const first = tokens[0]
    const command =
      first !== undefined && first.length <= 9 ? TEXT_COMMANDS.get(first.toString('latin1')) : undefined
    this.#ctx.metrics.command('text', command ?? 'unknown')
    this.#execute(command, tokens)
    return command ?? 'unknown'
  }

  #execute(command: Command | undefined, tokens: Buffer[]): void {
    switch (command) {
      case 'get':
      case 'gets':
        this.#retrieve(tokens, 1, command === 'gets', undefined)
        return
      case 'gat':
      case 'gats':
        this.#getAndTouch(tokens, command === 'gats')
        return
      case 'set':
      case 'add':
      case 'replace':
      case 'append':
      case 'prepend':
      case 'cas':
        this.#storage(command, tokens)
        return
      case 'delete':
        this.#delete(tokens)
        return
      case 'touch':
        this.#touch(tokens)
        return
      case 'incr':
      case 'decr':
        if (tokens.length < 3 || tokens.length > 4) {
          this.#unknown()
          return
        }
        this.#fail(
          'not-supported',
          'SERVER_ERROR incr and decr are not supported: values are opaque',
          isNoreply(tokens),
        )
        return
      case 'version':
        // memcached ignores any arguments; clients send `version` lines to resync a connection.
        this.#out.write(reply(`VERSION ${this.#ctx.limits.version}`))
        return
      case 'verbosity':
        this.#verbosity(tokens)
        return
      case 'flush_all':
        this.#flushAll(tokens)
        return
      case 'stats':
        this.#stats(tokens)
        return
      case 'quit':
        this.#out.close()
        return
      default:
        this.#unknown()
        return
    }
  }

  #unknown(): void {
    this.#ctx.metrics.error('unknown-command')
    this.#out.write(ERROR)
  }

  #retrieve(tokens: Buffer[], firstKey: number, withCas: boolean, exptime: number | undefined): void {
    if (tokens.length < 2) {
      this.#unknown()
      return
    }
    for (let i = firstKey; i < tokens.length; i++) {
      if (!isValidKey(tokens[i]!)) {
        this.#fail('bad-key', `CLIENT_ERROR ${BAD_FORMAT}`)
        return
      }
    }
    const { ops, metrics } = this.#ctx
    for (let i = firstKey; i < tokens.length; i++) {
      const key = tokens[i]!
      let hit: Hit | undefined
      try {
        hit = exptime === undefined ? ops.lookup(key) : ops.touch(key, exptime)
      } catch (err) {
        // The VALUE lines already written stay valid; the error line replaces the END.
        this.#failure(err)
        return
      }
      metrics.lookup(hit !== undefined)
      if (hit !== undefined) this.#out.write(valueReply(key, hit, withCas, i === tokens.length - 1))
      else if (i === tokens.length - 1) this.#out.write(END)
    }
    // `gat <exptime>` with no key: an empty list.
    if (firstKey === tokens.length) this.#out.write(END)
  }

  /** `gat <exptime> <key>*`: memcached answers a bare `gat <exptime>` with an empty list. */
  #getAndTouch(tokens: Buffer[], withCas: boolean): void {
    if (tokens.length < 2) {
      this.#unknown()
      return
    }
    const exptime = parseSigned(tokens[1]!)
    if (exptime === undefined) {
      this.#fail('bad-request', 'CLIENT_ERROR invalid exptime argument')
      return
    }
    this.#retrieve(tokens, 2, withCas, exptime)
  }

  /**
   * `<command> <key> <flags> <exptime> <bytes> [<cas unique>] [noreply]`. As in memcached, a last
   * token that is not `noreply` is ignored, and a wrong token count is `ERROR`.
   */
  #storage(command: StoreCommand, tokens: Buffer[]): void {
    const base = command === 'cas' ? 6 : 5
    const countOk = tokens.length === base || tokens.length === base + 1
    // Without a length there is no data block to expect (or none we could find the end of).
    if (tokens.length < 5) {
      this.#unknown()
      return
    }
    const bytes = parseUnsigned(tokens[4]!, MAX_ANNOUNCED_BYTES)
    if (bytes === undefined) {
      if (countOk) this.#failAndClose('bad-request', `CLIENT_ERROR ${BAD_FORMAT}`)
      else this.#failAndClose('unknown-command', 'ERROR')
      return
    }
    const noreply = countOk && isNoreply(tokens)
    const key = tokens[1]!
    const flags = parseUnsigned(tokens[2]!, 0xffff_ffff)
    const exptime = parseSigned(tokens[3]!)
    const cas = command === 'cas' && countOk ? parseCas(tokens[5]!) : 0n
    let refusal: [ErrorReason, string] | undefined
    if (!countOk) {
      refusal = ['unknown-command', 'ERROR']
    } else if (!isValidKey(key)) {
      refusal = ['bad-key', `CLIENT_ERROR ${BAD_FORMAT}`]
    } else if (flags === undefined || exptime === undefined || cas === undefined) {
      refusal = ['bad-request', `CLIENT_ERROR ${BAD_FORMAT}`]
    } else if (bytes > this.#ctx.limits.maxValueBytes) {
      refusal = ['value-too-large', 'SERVER_ERROR object too large for cache']
      this.#guard(() => this.#ctx.ops.refuseTooLarge(command, key))
    }
    if (refusal !== undefined || flags === undefined || exptime === undefined || cas === undefined) {
      if (refusal !== undefined) this.#fail(refusal[0], refusal[1], noreply)
      this.#swallow = bytes + 2
      return
    }
    // The key is a view of the line, which nothing else holds on to.
    this.#pending = { command, key, flags, exptime, bytes, cas, noreply }
  }

  #completeStore(pending: PendingStore, data: Buffer): void {
    let result: StoreResult
    try {
      const { command, key, flags, exptime, cas } = pending
      result = this.#ctx.ops.store(command, key, flags, exptime, data, cas).result
    } catch (err) {
      this.#failure(err)
      return
    }
    if (result === 'too-large') this.#ctx.metrics.error('value-too-large')
    if (!pending.noreply) this.#out.write(STORE_REPLIES[result])
  }

  /** `delete <key> [0] [noreply]`: memcached still accepts a zero hold time from old clients. */
  #delete(tokens: Buffer[]): void {
    if (tokens.length < 2 || tokens.length > 4) {
      this.#unknown()
      return
    }
    const noreply = isNoreply(tokens)
    if (tokens.length > 2) {
      const holdIsZero = isZero(tokens[2]!)
      const valid = tokens.length === 3 ? holdIsZero || noreply : holdIsZero && noreply
      if (!valid) {
        this.#fail('bad-request', `CLIENT_ERROR ${BAD_FORMAT}.  Usage: delete <key> [noreply]`, noreply)
        return
      }
    }
    const key = tokens[1]!
    if (!isValidKey(key)) {
      this.#fail('bad-key', `CLIENT_ERROR ${BAD_FORMAT}`, noreply)
      return
    }
    let deleted: boolean
    try {
      deleted = this.#ctx.ops.delete(key, 0n) === 'deleted'
    } catch (err) {
      this.#failure(err, noreply)
      return
    }
    if (!noreply) this.#out.write(deleted ? DELETED : NOT_FOUND)
  }

  /** `touch <key> <exptime> [noreply]`; a last token other than `noreply` is ignored, as in memcached. */
  #touch(tokens: Buffer[]): void {
    if (tokens.length < 3 || tokens.length > 4) {
      this.#unknown()
      return
    }
    const noreply = isNoreply(tokens)
    const key = tokens[1]!
    if (!isValidKey(key)) {
      this.#fail('bad-key', `CLIENT_ERROR ${BAD_FORMAT}`, noreply)
      return
    }
    const exptime = parseSigned(tokens[2]!)
    if (exptime === undefined) {
      this.#fail('bad-request', 'CLIENT_ERROR invalid exptime argument', noreply)
      return
    }
    let touched: boolean
    try {
      touched = this.#ctx.ops.touch(key, exptime) !== undefined
    } catch (err) {
      this.#failure(err, noreply)
      return
    }
    if (!noreply) this.#out.write(touched ? TOUCHED : NOT_FOUND)
  }

  /**
   * `verbosity <level> [noreply]`: accepted (and shown by `stats settings`) and otherwise ignored:
   * the endpoint never logs requests. As in memcached, a third token other than `noreply` is ignored.
   */
  #verbosity(tokens: Buffer[]): void {
    if (tokens.length < 2 || tokens.length > 3) {
      this.#unknown()
      return
    }
    const noreply = isNoreply(tokens)
    const level = parseUnsigned(tokens[1]!, 0xffff_ffff)
    if (level === undefined) {
      this.#fail('bad-request', `CLIENT_ERROR ${BAD_FORMAT}`, noreply)
      return
    }
    this.#ctx.stats.setVerbosity(level)
    if (!noreply) this.#out.write(OK)
  }

  /**
   * `flush_all [delay] [noreply]`. Counted, then refused unless allowed (as memcached counts a
   * flush it was started without); a delay of 0 or less is an immediate flush, a later one is
   * refused.
   */
  #flushAll(tokens: Buffer[]): void {
    if (tokens.length > 3) {
      this.#unknown()
      return
    }
    const noreply = isNoreply(tokens)
    this.#ctx.counters.cmdFlush++
    if (!this.#ctx.limits.allowFlushAll) {
      this.#fail('flush-disabled', 'SERVER_ERROR flush_all is disabled on this endpoint', noreply)
      return
    }
    if (tokens.length !== (noreply ? 2 : 1)) {
      const delay = parseSigned(tokens[1]!)
      if (delay === undefined) {
        this.#fail('bad-request', 'CLIENT_ERROR invalid exptime argument', noreply)
        return
      }
      if (delay > 0) {
        this.#fail('not-supported', 'SERVER_ERROR flush_all with a delay is not supported', noreply)
        return
      }
    }
    try {
      this.#ctx.ops.flush()
    } catch (err) {
      this.#failure(err, noreply)
      return
    }
    if (!noreply) this.#out.write(OK)
  }

  /**
   * `stats [group]`, `stats reset`. Any other group is `ERROR`, as memcached answers one it does
   * not know; a `noreply` does not silence it there either. Tokens after the group are ignored.
   */
  #stats(tokens: Buffer[]): void {
    const stats = this.#ctx.stats
    const sub = tokens[1]?.toString('latin1')
    if (sub === 'reset') {
      stats.reset()
      this.#out.write(RESET)
      return
    }
    const group = sub === undefined ? 'general' : STATS_SUBCOMMANDS.get(sub)
    if (group === undefined) {
      this.#unknown()
      return
    }
    this.#out.write(renderStats(stats.report(group)))
  }

  #failure(err: unknown, silent = false): void {
    const failure = classifyFailure(err, this.#ctx.logger)
    this.#fail(failure.reason, `SERVER_ERROR ${failure.message}`, silent)
  }

  #guard(action: () => void): void {
    try {
      action()
    } catch (err) {
      this.#ctx.metrics.error(classifyFailure(err, this.#ctx.logger).reason)
    }
  }

  /** Counts the error and answers it, unless the request said `noreply` (`silent`). */
  #fail(reason: ErrorReason, line: string, silent = false): void {
    this.#ctx.metrics.error(reason)
    if (!silent) this.#out.write(reply(line))
  }

  /** A request that leaves the stream unframed: the error is sent whatever `noreply` said, then close. */
  #failAndClose(reason: ErrorReason, line: string): void {
    this.#fail(reason, line)
    this.#out.close()
  }
}

/**
 * `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`, and `END\r\n` after the last key, as one
 * buffer: each socket write is a chunk that Node queues and hands to writev, and a hit of five
 * writes cost more than the copy.
 */
function valueReply(key: Buffer, hit: Hit, withCas: boolean, withEnd: boolean): Buffer {
  const header = ` ${hit.flags} ${hit.data.byteLength}${withCas ? ` ${casUniqueOf(hit.record)}` : ''}\r\n`
  const size =
    VALUE_PREFIX.length +
    key.length +
    header.length +
    hit.data.byteLength +
    CRLF.length +
    (withEnd ? END.length : 0)
  const out = Buffer.allocUnsafe(size)
  let at = VALUE_PREFIX.copy(out, 0)
  at += key.copy(out, at)
  at += out.write(header, at, 'latin1')
  out.set(hit.data, at)
  at += hit.data.byteLength
  at += CRLF.copy(out, at)
  if (withEnd) END.copy(out, at)
  return out
}

function renderStats(lines: readonly StatLine[]): Buffer {
  let text = ''
  for (const [name, value] of lines) text += `STAT ${name} ${value}\r\n`
  return Buffer.from(`${text}END\r\n`, 'latin1')
}

function tokenize(line: Buffer): Buffer[] {
  const tokens: Buffer[] = []
  let start = -1
  for (let i = 0; i < line.length; i++) {
    if (line[i] === SPACE) {
      if (start !== -1) tokens.push(line.subarray(start, i))
      start = -1
    } else if (start === -1) {
      start = i
    }
  }
  if (start !== -1) tokens.push(line.subarray(start))
  return tokens
}

/** 1..250 bytes, none of them a control character (the text protocol cannot carry them safely). */
function isValidKey(key: Buffer): boolean {
  if (key.length === 0 || key.length > MAX_KEY_BYTES) return false
  for (let i = 0; i < key.length; i++) {
    const byte = key[i]!
    if (byte < 0x20 || byte === 0x7f) return false
  }
  return true
}

/** memcached's `set_noreply_maybe`: the last token, whatever its position, is `noreply`. */
function isNoreply(tokens: Buffer[]): boolean {
  const token = tokens[tokens.length - 1]
  return token !== undefined && token.length === 7 && token.toString('latin1') === 'noreply'
}

function isZero(token: Buffer): boolean {
  return token.length === 1 && token[0] === 0x30
}

/** Decimal digits only, at most `max`. */
function parseUnsigned(token: Buffer, max: number): number | undefined {
  if (token.length === 0 || token.length > 10) return undefined
  let value = 0
  for (let i = 0; i < token.length; i++) {
    const digit = token[i]! - 0x30
    if (digit < 0 || digit > 9) return undefined
    value = value * 10 + digit
  }
  return value <= max ? value : undefined
}

/** An optional `-` and decimal digits; precision past 2^53 does not matter for an exptime. */
function parseSigned(token: Buffer): number | undefined {
  const negative = token[0] === 0x2d
  const start = negative ? 1 : 0
  if (token.length === start || token.length - start > 20) return undefined
  let value = 0
  for (let i = start; i < token.length; i++) {
    const digit = token[i]! - 0x30
    if (digit < 0 || digit > 9) return undefined
    value = value * 10 + digit
  }
  return negative ? -value : value
}

/** A 64-bit unsigned decimal. */
function parseCas(token: Buffer): bigint | undefined {
  if (token.length === 0 || token.length > 20) return undefined
  for (let i = 0; i < token.length; i++) {
    const byte = token[i]!
    if (byte < 0x30 || byte > 0x39) return undefined
  }
  const value = BigInt(token.toString('latin1'))
  return value <= 0xffff_ffff_ffff_ffffn ? value : undefined
}
