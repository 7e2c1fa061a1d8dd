import type { ByteQueue } from './byte-queue.ts'
import type { Hit, StoreCommand } from './cache-operations.ts'
import { MAX_KEY_BYTES } from './constants.ts'
import {
  type ConnectionOutput,
  classifyFailure,
  type EndpointContext,
  type ProtocolSession,
} from './endpoint-context.ts'
import type { StatsGroup } from './endpoint-stats.ts'
import type { Command, ErrorReason } from './metrics.ts'
import { casUniqueOf } from './stored-value.ts'

export const REQUEST_MAGIC = 0x80
const RESPONSE_MAGIC = 0x81
const HEADER_BYTES = 24
/** The cas of a store whose exptime has already passed (memcached never answers a success with 0). */
const EXPIRED_STORE_CAS = 1n

/** Binary response statuses (memcached's protocol_binary.h), with the messages memcached sends. */
export const Status = {
  ok: 0x0000,
  keyNotFound: 0x0001,
  keyExists: 0x0002,
  valueTooLarge: 0x0003,
  invalidArguments: 0x0004,
  notStored: 0x0005,
  unknownCommand: 0x0081,
  notSupported: 0x0083,
  internalError: 0x0084,
} as const

const STATUS_MESSAGES: Record<number, Buffer> = {
  [Status.keyNotFound]: Buffer.from('Not found'),
  [Status.keyExists]: Buffer.from('Data exists for key.'),
  [Status.valueTooLarge]: Buffer.from('Too large.'),
  [Status.invalidArguments]: Buffer.from('Invalid arguments'),
  [Status.notStored]: Buffer.from('Not stored.'),
  [Status.unknownCommand]: Buffer.from('Unknown command'),
  [Status.notSupported]: Buffer.from('Not supported'),
  [Status.internalError]: Buffer.from('Internal error'),
}

type OpcodeKind =
  | 'get'
  | 'store'
  | 'concat'
  | 'delete'
  | 'arith'
  | 'quit'
  | 'flush'
  | 'noop'
  | 'version'
  | 'stat'
  | 'touch'
  | 'gat'

interface Opcode {
  kind: OpcodeKind
  command: Command
  /** Quiet variants answer only misses-that-matter and errors (see memcached's protocol_binary.h). */
  quiet: boolean
  /** GETK/GETKQ/GATK/GATKQ echo the key in the response. */
  withKey: boolean
  store?: StoreCommand
}

const op = (
  kind: OpcodeKind,
  command: Command,
  quiet = false,
  withKey = false,
  store?: StoreCommand,
): Opcode =>
  store === undefined ? { kind, command, quiet, withKey } : { kind, command, quiet, withKey, store }

const OPCODES: ReadonlyMap<number, Opcode> = new Map([
  [0x00, op('get', 'get')],
  [0x09, op('get', 'get', true)],
  [0x0c, op('get', 'get', false, true)],
  [0x0d, op('get', 'get', true, true)],
  [0x01, op('store', 'set', false, false, 'set')],
  [0x11, op('store', 'set', true, false, 'set')],
  [0x02, op('store', 'add', false, false, 'add')],
  [0x12, op('store', 'add', true, false, 'add')],
  [0x03, op('store', 'replace', false, false, 'replace')],
  [0x13, op('store', 'replace', true, false, 'replace')],
  [0x0e, op('concat', 'append', false, false, 'append')],
  [0x19, op('concat', 'append', true, false, 'append')],
  [0x0f, op('concat', 'prepend', false, false, 'prepend')],
  [0x1a, op('concat', 'prepend', true, false, 'prepend')],
  [0x04, op('delete', 'delete')],
  [0x14, op('delete', 'delete', true)],
  [0x05, op('arith', 'incr')],
  [0x15, op('arith', 'incr', true)],
  [0x06, op('arith', 'decr')],
  [0x16, op('arith', 'decr', true)],
  [0x07, op('quit', 'quit')],
  [0x17, op('quit', 'quit', true)],
  [0x08, op('flush', 'flush_all')],
  [0x18, op('flush', 'flush_all', true)],
  [0x0a, op('noop', 'noop')],
  [0x0b, op('version', 'version')],
  [0x10, op('stat', 'stats')],
  // 0x1b (VERBOSITY) is left out: memcached 1.6 answers it as an unknown command.
  [0x1c, op('touch', 'touch')],
  [0x1d, op('gat', 'gat')],
  [0x1e, op('gat', 'gat', true)],
  [0x23, op('gat', 'gat', false, true)],
  [0x24, op('gat', 'gat', true, true)],
])

interface Request {
  opcode: number
  spec: Opcode
  opaque: number
  cas: bigint
  extras: Buffer
  key: Buffer
  value: Buffer
}

/** STAT keys with their own list; memcached matches `settings` and `reset` as prefixes. */
const STAT_GROUPS: ReadonlyMap<string, StatsGroup> = new Map<string, StatsGroup>([
  ['items', 'items'],
  ['slabs', 'slabs'],
  ['sizes', 'sizes'],
])

/**
 * memcached's binary protocol for one connection: 24-byte headers, big-endian, responses echo the
 * opcode and opaque. A request whose sizes contradict each other cannot be framed, so the
 * connection closes after an error reply; any other bad request gets its error status and the
 * connection goes on. Bodies over the limit are skipped, never buffered.
 */
export class BinaryProtocolSession implements ProtocolSession {
  readonly #ctx: EndpointContext
  readonly #out: ConnectionOutput
  /** The largest body worth buffering: SET extras, a maximal key and a maximal value. */
  readonly #maxBodyBytes: number
  #swallow = 0

  constructor(ctx: EndpointContext, out: ConnectionOutput) {
    this.#ctx = ctx
    this.#out = out
    this.#maxBodyBytes = 8 + MAX_KEY_BYTES + ctx.limits.maxValueBytes
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
      if (queue.length < HEADER_BYTES) return
      const header = queue.peek(HEADER_BYTES)
      const opcode = header[1]!
      const keyLength = header.readUInt16BE(2)
      const extrasLength = header[4]!
      const bodyLength = header.readUInt32BE(8)
      const opaque = header.readUInt32BE(12)
      const cas = header.readBigUInt64BE(16)
      if (header[0] !== REQUEST_MAGIC) {
        // Without the magic nothing after can be trusted to be a header: memcached closes too.
        this.#ctx.metrics.error('bad-magic')
        out.close()
        return
      }
      const spec = OPCODES.get(opcode)
      this.#ctx.metrics.command('binary', spec?.command ?? 'unknown')
      if (keyLength + extrasLength > bodyLength) {
        this.#error('bad-request', opcode, opaque, Status.invalidArguments)
        out.close()
        return
      }
      if (bodyLength > this.#maxBodyBytes) {
        // memcached unlinks the old value when a set is refused for size: wait for the key to do so.
        const store = spec?.store
        const discard = store !== undefined && keyLength > 0 && keyLength <= MAX_KEY_BYTES
        const keyEnd = HEADER_BYTES + extrasLength + keyLength
        if (discard && queue.length < keyEnd) return
        if (discard) {
          const key = Buffer.from(queue.peek(keyEnd).subarray(HEADER_BYTES + extrasLength))
          this.#guard(() => this.#ctx.ops.refuseTooLarge(store, key))
        }
        queue.skip(HEADER_BYTES)
        this.#swallow = bodyLength
        if (spec === undefined) this.#error('unknown-command', opcode, opaque, Status.unknownCommand)
        else if (spec.kind === 'store' || spec.kind === 'concat') {
          this.#error('value-too-large', opcode, opaque, Status.valueTooLarge)
        } else this.#error('bad-request', opcode, opaque, Status.invalidArguments)
        continue
      }
      if (queue.length < HEADER_BYTES + bodyLength) return
      queue.skip(HEADER_BYTES)
      const body = queue.take(bodyLength)
      if (spec === undefined) {
        this.#error('unknown-command', opcode, opaque, Status.unknownCommand)
        continue
      }
      const started = this.#ctx.metrics.started()
      this.#handle({
        opcode,
        spec,
        opaque,
        cas,
        extras: body.subarray(0, extrasLength),
        key: body.subarray(extrasLength, extrasLength + keyLength),
        value: body.subarray(extrasLength + keyLength),
      })
      this.#ctx.metrics.commandDone(spec.command, started)
    }
  }

  #handle(req: Request): void {
    const { spec } = req
    if (!hasValidShape(req)) {
      this.#error('bad-request', req.opcode, req.opaque, Status.invalidArguments)
      return
    }
    try {
      switch (spec.kind) {
        case 'get':
          this.#respondToLookup(req, this.#ctx.ops.lookup(req.key))
          return
        case 'gat':
          this.#respondToLookup(req, this.#ctx.ops.touch(req.key, req.extras.readUInt32BE(0)))
          return
        case 'store':
        case 'concat':
          this.#store(req)
          return
        case 'delete':
          this.#delete(req)
          return
        case 'touch':
          this.#touch(req)
          return
        case 'arith':
          this.#error('not-supported', req.opcode, req.opaque, Status.notSupported)
          return
        case 'quit':
          if (!spec.quiet) this.#respond(req, Status.ok)
          this.#out.close()
          return
        case 'flush':
          this.#flush(req)
          return
        case 'noop':
          this.#respond(req, Status.ok)
          return
        case 'version':
          this.#respond(req, Status.ok, 0n, undefined, undefined, Buffer.from(this.#ctx.limits.version))
          return
        case 'stat':
          this.#stat(req)
          return
      }
    } catch (err) {
      const failure = classifyFailure(err, this.#ctx.logger)
      this.#error(failure.reason, req.opcode, req.opaque, failure.status)
    }
  }

  #respondToLookup(req: Request, hit: Hit | undefined): void {
    this.#ctx.metrics.lookup(hit !== undefined)
    const key = req.spec.withKey ? req.key : undefined
    if (hit === undefined) {
      if (req.spec.quiet) return
      // GETK answers a miss with the key, the others with memcached's message.
      if (key !== undefined) {
        this.#respond(req, Status.keyNotFound, 0n, undefined, key)
        return
      }
      this.#respondStatus(req, Status.keyNotFound)
      return
    }
    this.#respond(req, Status.ok, casUniqueOf(hit.record), flagsExtras(hit.flags), key, hit.data)
  }

  #store(req: Request): void {
    const command = req.spec.store!
    const isConcat = req.spec.kind === 'concat'
    if (req.value.length > this.#ctx.limits.maxValueBytes) {
      this.#ctx.ops.refuseTooLarge(command, req.key)
      this.#error('value-too-large', req.opcode, req.opaque, Status.valueTooLarge)
      return
    }
    const flags = isConcat ? 0 : req.extras.readUInt32BE(0)
    const exptime = isConcat ? 0 : req.extras.readUInt32BE(4)
    const { result, record } = this.#ctx.ops.store(command, req.key, flags, exptime, req.value, req.cas)
    if (result === 'stored') {
      // An already-expired store keeps nothing; memcached still reports a cas, and no later request
      // can match one for a key that is gone.
      if (!req.spec.quiet)
        this.#respond(req, Status.ok, record === undefined ? EXPIRED_STORE_CAS : casUniqueOf(record))
      return
    }
    if (result === 'too-large') {
      this.#error('value-too-large', req.opcode, req.opaque, Status.valueTooLarge)
      return
    }
    // Not errors of the client or the endpoint, just answers (even to a quiet request, as memcached).
    this.#respondStatus(req, storeStatus(command, result))
  }

  #delete(req: Request): void {
    const result = this.#ctx.ops.delete(req.key, req.cas)
    if (result === 'deleted') {
      if (!req.spec.quiet) this.#respond(req, Status.ok)
      return
    }
    this.#respondStatus(req, result === 'exists' ? Status.keyExists : Status.keyNotFound)
  }

  #touch(req: Request): void {
    const hit = this.#ctx.ops.touch(req.key, req.extras.readUInt32BE(0))
    if (hit === undefined) {
      this.#respondStatus(req, Status.keyNotFound)
      return
    }
    // memcached answers TOUCH like a GAT without the value: flags and the item's cas.
    this.#respond(req, Status.ok, casUniqueOf(hit.record), flagsExtras(hit.flags))
  }

  #flush(req: Request): void {
    // Counted whether or not it is allowed, as memcached counts a flush it was started without.
    this.#ctx.counters.cmdFlush++
    if (!this.#ctx.limits.allowFlushAll) {
      this.#error('flush-disabled', req.opcode, req.opaque, Status.notSupported)
      return
    }
    if (req.extras.length === 4 && req.extras.readUInt32BE(0) !== 0) {
      this.#error('not-supported', req.opcode, req.opaque, Status.notSupported)
      return
    }
    this.#ctx.ops.flush()
    if (!req.spec.quiet) this.#respond(req, Status.ok)
  }

  /**
   * One response per stat (key = name, value = value), then one with neither; `reset` answers only
   * that last one. A key naming no list is `Not found`, as in memcached.
   */
  #stat(req: Request): void {
    const stats = this.#ctx.stats
    const key = req.key.toString('latin1')
    if (key.startsWith('reset')) {
      stats.reset()
      this.#respond(req, Status.ok)
      return
    }
    const group = key === '' ? 'general' : key.startsWith('settings') ? 'settings' : STAT_GROUPS.get(key)
    if (group === undefined) {
      this.#respondStatus(req, Status.keyNotFound)
      return
    }
    for (const [name, value] of stats.report(group)) {
      this.#respond(req, Status.ok, 0n, undefined, Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1'))
    }
    this.#respond(req, Status.ok)
  }

  #error(reason: ErrorReason, opcode: number, opaque: number, status: number): void {
    this.#ctx.metrics.error(reason)
    this.#write(opcode, opaque, status, 0n, undefined, undefined, STATUS_MESSAGES[status])
  }

  /** A non-ok answer that is not an error (a miss, a failed add): memcached's message as the body. */
  #respondStatus(req: Request, status: number): void {
    this.#write(req.opcode, req.opaque, status, 0n, undefined, undefined, STATUS_MESSAGES[status])
  }

  #guard(action: () => void): void {
    try {
      action()
    } catch (err) {
      this.#ctx.metrics.error(classifyFailure(err, this.#ctx.logger).reason)
    }
  }

  #respond(
    req: Request,
    status: number,
    cas = 0n,
    extras?: Uint8Array,
    key?: Uint8Array,
    value?: Uint8Array,
  ): void {
    this.#write(req.opcode, req.opaque, status, cas, extras, key, value)
  }

  #write(
    opcode: number,
    opaque: number,
    status: number,
    cas: bigint,
    extras: Uint8Array | undefined,
    key: Uint8Array | undefined,
    value: Uint8Array | undefined,
  ): void {
    const extrasLength = extras?.byteLength ?? 0
    const keyLength = key?.byteLength ?? 0
    const valueLength = value?.byteLength ?? 0
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header[0] = RESPONSE_MAGIC
    header[1] = opcode
    header.writeUInt16BE(keyLength, 2)
    header[4] = extrasLength
    header[5] = 0
    header.writeUInt16BE(status, 6)
    header.writeUInt32BE(extrasLength + keyLength + valueLength, 8)
    header.writeUInt32BE(opaque, 12)
    header.writeBigUInt64BE(cas, 16)
    this.#out.write(header)
    if (extras !== undefined && extrasLength > 0) this.#out.write(extras)
    if (key !== undefined && keyLength > 0) this.#out.write(key)
    if (value !== undefined && valueLength > 0) this.#out.write(value)
  }
}

/** memcached's per-opcode checks of the extras, key and value lengths. */
function hasValidShape(req: Request): boolean {
  const extras = req.extras.length
  const key = req.key.length
  const value = req.value.length
  const hasKey = key > 0 && key <= MAX_KEY_BYTES
  switch (req.spec.kind) {
    case 'get':
    case 'delete':
      return extras === 0 && hasKey && value === 0
    case 'store':
      return extras === 8 && hasKey
    case 'concat':
      return extras === 0 && hasKey
    case 'touch':
    case 'gat':
      return extras === 4 && hasKey && value === 0
    case 'arith':
      // Refused whatever the shape; checking it first would only change the error.
      return true
    case 'flush':
      return (extras === 0 || extras === 4) && key === 0 && value === 0
    case 'stat':
      // memcached reads the key and ignores a value.
      return extras === 0 && key <= MAX_KEY_BYTES
    case 'quit':
    case 'noop':
    case 'version':
      return extras === 0 && key === 0 && value === 0
  }
}

/** memcached's mapping: a failed add means the key exists, a failed replace that it does not. */
function storeStatus(command: StoreCommand, result: 'not-stored' | 'exists' | 'not-found'): number {
  if (result === 'exists') return Status.keyExists
  if (result === 'not-found') return Status.keyNotFound
  if (command === 'add') return Status.keyExists
  if (command === 'replace') return Status.keyNotFound
  return Status.notStored
}

function flagsExtras(flags: number): Buffer {
  const extras = Buffer.allocUnsafe(4)
  extras.writeUInt32BE(flags >>> 0, 0)
  return extras
}
