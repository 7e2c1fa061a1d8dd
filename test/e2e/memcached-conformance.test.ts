// The memcached endpoint side by side with a real memcached 1.6 (Debian's /usr/bin/memcached): the
// same bytes go to both, on a fresh connection per case, and the replies are compared once what
// legitimately differs is normalised (the version string, cas uniques, stats values). Where the
// endpoint differs on purpose (README: values are sessions, broken requests never run as
// commands), the case says what it answers instead and why, and both sides of that are checked.
// Then the counters `stats` reports must move as memcached's do, and memcached-tool must read them.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { type FlushableSessionCache, replicaCacheUsage } from '@tlsmesh/memcache'
import type { Command } from '@tlsmesh/memcache/protocol'
import { createReplicaStore, LocalSessionCache } from '@tlsmesh/store'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Endpoint, startEndpoint } from '../../packages/memcache/test/endpoint-fixture.ts'
import {
  type BinaryRequest,
  type BinaryResponse,
  binaryRequest,
  Op,
  RawConnection,
  storeExtras,
  u32,
} from '../../packages/memcache/test/raw-clients.ts'
import { freePort, type ManagedProcess, startProcess, waitForPort } from './lib/managed-process.ts'

const MEMCACHED = '/usr/bin/memcached'
const MEMCACHED_TOOL = '/usr/share/memcached/scripts/memcached-tool'
const execFileAsync = promisify(execFile)

/** Counters that must move by as much on both servers for the same requests. */
const COUNTERS = [
  'total_connections',
  'cmd_get',
  'cmd_set',
  'cmd_flush',
  'cmd_touch',
  'get_hits',
  'get_misses',
  'delete_hits',
  'delete_misses',
  'cas_hits',
  'cas_misses',
  'cas_badval',
  'touch_hits',
  'touch_misses',
  'store_too_large',
  'total_items',
]
/** What monitoring tools read from `stats`: the endpoint must report every one of them. */
const REQUIRED_STATS = [
  'pid',
  'uptime',
  'time',
  'version',
  'curr_connections',
  'rejected_connections',
  'bytes_read',
  'bytes_written',
  'limit_maxbytes',
  'threads',
  'bytes',
  'curr_items',
  'evictions',
  ...COUNTERS,
]
const REQUIRED_SETTINGS = ['maxbytes', 'maxconns', 'tcpport', 'verbosity', 'item_size_max', 'flush_enabled']

/** Where the endpoint answers otherwise on purpose: its normalised reply, and the README's reason. */
interface Deliberate {
  ours: string
  why: string
}

interface TextCase {
  /** Sent first on the same connection; the replies are read and dropped. */
  setup?: string
  /** What is compared; a function gets the setup's replies (to send back a cas unique). */
  send: string | ((setupReply: string) => string)
  /** Replies are `stats` lists: compared by names and kinds of value. */
  stats?: 'general' | 'settings' | 'other'
  /** Against the endpoint started with `allowFlushAll`. */
  flushAllowed?: boolean
  differs?: Deliberate
}

interface BinaryCase {
  setup?: BinaryRequest[]
  send: BinaryRequest[] | ((setupReplies: Packet[]) => BinaryRequest[])
  stats?: 'general' | 'settings' | 'other'
  flushAllowed?: boolean
  differs?: Deliberate
}

type Packet = BinaryResponse

const SESSIONS = 'values are sessions: incr/decr are refused (README)'
const NEVER_RUN_DATA = 'broken requests never run as commands: the data block is skipped (README)'
const FLUSH_REFUSED = 'flush_all is refused unless allowFlushAll (README)'
const SHAPE = 'a binary request of the wrong shape gets its error and the connection goes on'
const big = (n: number): string => 'v'.repeat(n)
const key250 = 'k'.repeat(250)
const key251 = 'k'.repeat(251)
const casOf = (reply: string): string => /^VALUE \S+ \d+ \d+ (\d+)\r$/m.exec(reply)?.[1] ?? 'none'

/** One entry per text command label: a new command without conformance cases does not compile. */
const TEXT_CASES: Record<Exclude<Command, 'noop'>, Record<string, TextCase>> = {
  stats: {
    general: { send: 'stats\r\n', stats: 'general' },
    'trailing spaces': { send: 'stats  \r\n', stats: 'general' },
    settings: { send: 'stats settings\r\n', stats: 'settings' },
    'settings, extra token ignored': { send: 'stats settings x\r\n', stats: 'settings' },
    items: { send: 'stats items\r\n', stats: 'other' },
    slabs: { send: 'stats slabs\r\n', stats: 'other' },
    sizes: { send: 'stats sizes\r\n', stats: 'other' },
    reset: { send: 'stats reset\r\n' },
    'reset noreply (still answered)': { send: 'stats reset noreply\r\n' },
    'unknown group': { send: 'stats bogus\r\n' },
    'noreply alone': { send: 'stats noreply\r\n' },
  },
  get: {
    miss: { send: 'get t-get-none\r\n' },
    hit: { setup: 'set t-get-hit 5 0 5\r\nalpha\r\n', send: 'get t-get-hit\r\n' },
    'keys with a miss among them': {
      setup: 'set t-get-a 0 0 1\r\na\r\nset t-get-b 4294967295 0 2\r\nbb\r\n',
      send: 'get t-get-a t-get-none t-get-b t-get-a\r\n',
    },
    'a key named noreply': { setup: 'set noreply 0 0 1\r\nn\r\n', send: 'get noreply\r\n' },
    'key of 250 bytes': { setup: `set ${key250} 0 0 1\r\nx\r\n`, send: `get ${key250}\r\n` },
    'key of 251 bytes': { send: `get ${key251}\r\n` },
    'no key': { send: 'get\r\n' },
  },
  gets: {
    hit: { setup: 'set t-gets 3 0 2\r\nab\r\n', send: 'gets t-gets t-gets-none\r\n' },
    miss: { send: 'gets t-gets-none\r\n' },
    'no key': { send: 'gets\r\n' },
  },
  gat: {
    hit: { setup: 'set t-gat 1 0 1\r\nx\r\n', send: 'gat 100 t-gat t-gat-none\r\n' },
    miss: { send: 'gat 100 t-gat-none\r\n' },
    'past exptime: returned once, then gone': {
      setup: 'set t-gat-past 0 0 1\r\nx\r\n',
      send: 'gat -1 t-gat-past\r\nget t-gat-past\r\n',
    },
    'no key': { send: 'gat 100\r\n' },
    'bad exptime': { send: 'gat soon t-gat\r\n' },
    'no arguments': { send: 'gat\r\n' },
  },
  gats: {
    hit: { setup: 'set t-gats 0 0 1\r\nx\r\n', send: 'gats 100 t-gats\r\n' },
    miss: { send: 'gats 100 t-gats-none\r\n' },
  },
  set: {
    stored: { send: 'set t-set 7 0 5\r\nalpha\r\nget t-set\r\n' },
    noreply: { send: 'set t-set-nr 0 0 1 noreply\r\nx\r\nget t-set-nr\r\n' },
    'a last token other than noreply is ignored': { send: 'set t-set-x 0 0 1 extra\r\nx\r\nget t-set-x\r\n' },
    'empty value': { send: 'set t-set-empty 0 0 0\r\n\r\nget t-set-empty\r\n' },
    'relative exptime': { send: 'set t-set-ttl 0 100 1\r\nx\r\nget t-set-ttl\r\n' },
    'negative exptime: stored, then a miss': { send: 'set t-set-neg 0 -1 1\r\nx\r\nget t-set-neg\r\n' },
    'absolute exptime in the past': { send: 'set t-set-abs 0 1000000000 1\r\nx\r\nget t-set-abs\r\n' },
    'over memcached item size': {
      send: `set t-set-big 0 0 2000000\r\n${big(2_000_000)}\r\nget t-set-big\r\n`,
    },
    'over memcached item size, noreply': {
      send: `set t-set-big 0 0 2000000 noreply\r\n${big(2_000_000)}\r\nget t-set-big\r\n`,
    },
    'too few tokens': { send: 'set t-set-few 0 0\r\n' },
    'bad flags': {
      send: 'set t-set-flags x 0 1\r\nx\r\n',
      differs: { ours: 'CLIENT_ERROR bad command line format\r\n', why: NEVER_RUN_DATA },
    },
    'bad flags, noreply': {
      send: 'set t-set-flags x 0 1 noreply\r\nx\r\n',
      differs: { ours: '', why: NEVER_RUN_DATA },
    },
    'key of 251 bytes, noreply': {
      send: `set ${key251} 0 0 1 noreply\r\nx\r\n`,
      differs: { ours: '', why: NEVER_RUN_DATA },
    },
    'too many tokens': {
      send: 'set t-set-many 0 0 1 noreply x\r\nx\r\n',
      differs: { ours: 'ERROR\r\n', why: NEVER_RUN_DATA },
    },
    'over maxValueBytes (16 KiB)': {
      send: `set t-set-20k 0 0 20000\r\n${big(20_000)}\r\n`,
      differs: {
        ours: 'SERVER_ERROR object too large for cache\r\n',
        why: 'values are sessions: at most maxValueBytes (README)',
      },
    },
    'bad data chunk': {
      send: 'set t-set-chunk 0 0 1\r\nxy\r\n',
      differs: {
        ours: 'CLIENT_ERROR bad data chunk\r\n<closed>',
        why: 'a data block that does not end where announced closes the connection (README)',
      },
    },
  },
  add: {
    'new key': { send: 'add t-add 0 0 1\r\nx\r\nget t-add\r\n' },
    'existing key': {
      setup: 'set t-add-old 0 0 1\r\no\r\n',
      send: 'add t-add-old 0 0 1\r\nn\r\nget t-add-old\r\n',
    },
    noreply: { send: 'add t-add-nr 0 0 1 noreply\r\nx\r\nget t-add-nr\r\n' },
    'existing key, noreply': {
      setup: 'set t-add-old2 0 0 1\r\no\r\n',
      send: 'add t-add-old2 0 0 1 noreply\r\nn\r\nget t-add-old2\r\n',
    },
  },
  replace: {
    'missing key': { send: 'replace t-rep-none 0 0 1\r\nx\r\n' },
    'existing key': { setup: 'set t-rep 1 0 1\r\no\r\n', send: 'replace t-rep 2 0 1\r\nn\r\nget t-rep\r\n' },
    'missing key, noreply': { send: 'replace t-rep-none 0 0 1 noreply\r\nx\r\n' },
    noreply: {
      setup: 'set t-rep-nr 0 0 1\r\no\r\n',
      send: 'replace t-rep-nr 0 0 1 noreply\r\nn\r\nget t-rep-nr\r\n',
    },
  },
  append: {
    'existing key keeps its flags': {
      setup: 'set t-app 7 0 1\r\na\r\n',
      send: 'append t-app 9 0 1\r\nb\r\nget t-app\r\n',
    },
    'missing key': { send: 'append t-app-none 0 0 1\r\nb\r\n' },
    noreply: {
      setup: 'set t-app-nr 0 0 1\r\na\r\n',
      send: 'append t-app-nr 0 0 1 noreply\r\nb\r\nget t-app-nr\r\n',
    },
    'missing key, noreply': { send: 'append t-app-none 0 0 1 noreply\r\nb\r\n' },
  },
  prepend: {
    'existing key keeps its flags': {
      setup: 'set t-pre 7 0 1\r\na\r\n',
      send: 'prepend t-pre 9 0 1\r\nb\r\nget t-pre\r\n',
    },
    'missing key': { send: 'prepend t-pre-none 0 0 1\r\nb\r\n' },
    noreply: {
      setup: 'set t-pre-nr 0 0 1\r\na\r\n',
      send: 'prepend t-pre-nr 0 0 1 noreply\r\nb\r\nget t-pre-nr\r\n',
    },
  },
  cas: {
    'matching cas': {
      setup: 'set t-cas 0 0 1\r\nx\r\ngets t-cas\r\n',
      send: (r) => `cas t-cas 3 0 1 ${casOf(r)}\r\ny\r\nget t-cas\r\n`,
    },
    'matching cas, noreply': {
      setup: 'set t-cas-nr 0 0 1\r\nx\r\ngets t-cas-nr\r\n',
      send: (r) => `cas t-cas-nr 0 0 1 ${casOf(r)} noreply\r\ny\r\nget t-cas-nr\r\n`,
    },
    'stale cas': {
      setup: 'set t-cas-old 0 0 1\r\nx\r\n',
      send: 'cas t-cas-old 0 0 1 1\r\ny\r\nget t-cas-old\r\n',
    },
    'stale cas, noreply': {
      setup: 'set t-cas-old2 0 0 1\r\nx\r\n',
      send: 'cas t-cas-old2 0 0 1 1 noreply\r\ny\r\n',
    },
    'missing key': { send: 'cas t-cas-none 0 0 1 1\r\ny\r\n' },
    'missing key, noreply': { send: 'cas t-cas-none 0 0 1 1 noreply\r\ny\r\n' },
    'no cas unique': {
      send: 'cas t-cas 0 0 1\r\ny\r\n',
      differs: { ours: 'ERROR\r\n', why: NEVER_RUN_DATA },
    },
  },
  delete: {
    hit: { setup: 'set t-del 0 0 1\r\nx\r\n', send: 'delete t-del\r\nget t-del\r\n' },
    miss: { send: 'delete t-del-none\r\n' },
    noreply: { setup: 'set t-del-nr 0 0 1\r\nx\r\n', send: 'delete t-del-nr noreply\r\nget t-del-nr\r\n' },
    'miss, noreply': { send: 'delete t-del-none noreply\r\n' },
    'hold time 0': { setup: 'set t-del-0 0 0 1\r\nx\r\n', send: 'delete t-del-0 0\r\n' },
    'hold time 0, noreply': { setup: 'set t-del-0nr 0 0 1\r\nx\r\n', send: 'delete t-del-0nr 0 noreply\r\n' },
    'other hold time': { send: 'delete t-del-none 5\r\n' },
    'other hold time, noreply': { send: 'delete t-del-none 5 noreply\r\n' },
    'key of 251 bytes': { send: `delete ${key251}\r\n` },
    'key of 251 bytes, noreply': { send: `delete ${key251} noreply\r\n` },
    'no key': { send: 'delete\r\n' },
    'too many tokens': { send: 'delete t-del-none 0 noreply x\r\n' },
  },
  touch: {
    hit: { setup: 'set t-touch 0 0 1\r\nx\r\n', send: 'touch t-touch 100\r\n' },
    miss: { send: 'touch t-touch-none 100\r\n' },
    noreply: {
      setup: 'set t-touch-nr 0 0 1\r\nx\r\n',
      send: 'touch t-touch-nr 100 noreply\r\nget t-touch-nr\r\n',
    },
    'miss, noreply': { send: 'touch t-touch-none 100 noreply\r\n' },
    'a last token other than noreply is ignored': {
      setup: 'set t-touch-x 0 0 1\r\nx\r\n',
      send: 'touch t-touch-x 100 x\r\n',
    },
    'past exptime': {
      setup: 'set t-touch-past 0 0 1\r\nx\r\n',
      send: 'touch t-touch-past -1\r\nget t-touch-past\r\n',
    },
    'bad exptime': { send: 'touch t-touch soon\r\n' },
    'bad exptime, noreply': { send: 'touch t-touch soon noreply\r\n' },
    'no exptime': { send: 'touch t-touch\r\n' },
  },
  incr: {
    refused: {
      setup: 'set t-incr 0 0 1\r\n1\r\n',
      send: 'incr t-incr 1\r\n',
      differs: { ours: 'SERVER_ERROR incr and decr are not supported: values are opaque\r\n', why: SESSIONS },
    },
    'refused, noreply': {
      setup: 'set t-incr-nr 0 0 1\r\n1\r\n',
      send: 'incr t-incr-nr 1 noreply\r\nget t-incr-nr\r\n',
      differs: { ours: 'VALUE t-incr-nr 0 1\r\n1\r\nEND\r\n', why: SESSIONS },
    },
    'no delta': { send: 'incr t-incr\r\n' },
  },
  decr: {
    refused: {
      send: 'decr t-decr-none 1\r\n',
      differs: { ours: 'SERVER_ERROR incr and decr are not supported: values are opaque\r\n', why: SESSIONS },
    },
    'refused, noreply': { send: 'decr t-decr-none 1 noreply\r\n' },
    'too many tokens': { send: 'decr t-decr-none 1 noreply x\r\n' },
  },
  version: {
    plain: { send: 'version\r\n' },
    'with arguments': { send: 'version foo bar\r\n' },
  },
  verbosity: {
    level: { send: 'verbosity 1\r\n' },
    noreply: { send: 'verbosity 0 noreply\r\n' },
    'a last token other than noreply is ignored': { send: 'verbosity 0 2\r\n' },
    'not a number': { send: 'verbosity x\r\n' },
    'not a number, noreply': { send: 'verbosity x noreply\r\n' },
    'noreply in place of the level': { send: 'verbosity noreply\r\n' },
    'no level': { send: 'verbosity\r\n' },
    'too many tokens': { send: 'verbosity 0 0 0\r\n' },
  },
  flush_all: {
    plain: { setup: 'set t-flush 0 0 1\r\nx\r\n', send: 'flush_all\r\nget t-flush\r\n', flushAllowed: true },
    'delay 0': { send: 'flush_all 0\r\n', flushAllowed: true },
    'negative delay': { send: 'flush_all -1\r\n', flushAllowed: true },
    noreply: { send: 'flush_all noreply\r\n', flushAllowed: true },
    'delay 0, noreply': { send: 'flush_all 0 noreply\r\n', flushAllowed: true },
    'extra token ignored': { send: 'flush_all 0 0\r\n', flushAllowed: true },
    'bad delay': { send: 'flush_all soon\r\n', flushAllowed: true },
    'bad delay, noreply': { send: 'flush_all soon noreply\r\n', flushAllowed: true },
    'noreply first': { send: 'flush_all noreply 0\r\n', flushAllowed: true },
    'too many tokens': { send: 'flush_all 0 0 noreply\r\n', flushAllowed: true },
    'a later flush': {
      // An absolute time years ahead: memcached would flush then, long after this test.
      send: 'flush_all 2000000000\r\n',
      flushAllowed: true,
      differs: {
        ours: 'SERVER_ERROR flush_all with a delay is not supported\r\n',
        why: 'a scheduled flush is not supported (README)',
      },
    },
    'not allowed': {
      send: 'flush_all\r\n',
      differs: { ours: 'SERVER_ERROR flush_all is disabled on this endpoint\r\n', why: FLUSH_REFUSED },
    },
    'not allowed, noreply': { send: 'flush_all noreply\r\n' },
  },
  quit: {
    plain: { send: 'quit\r\n' },
    'with arguments': { send: 'quit now\r\n' },
    'answers what came before, nothing after': { send: 'version\r\nquit\r\nversion\r\n' },
  },
  unknown: {
    'unknown command': { send: 'bogus a b\r\n' },
    'empty line': { send: '\r\n' },
    'one letter': { send: 'g\r\n' },
    'upper case': { send: 'GET t-get-hit\r\n' },
    'bare line feed': { send: 'version\n' },
  },
}

const setReq = (key: string, value: string, flags = 0, cas = 0n): BinaryRequest => ({
  opcode: Op.set,
  key,
  value,
  extras: storeExtras(flags, 0),
  cas,
})

/** APPEND and PREPEND take the same cases. */
function concatCases(name: string, opcode: number, quiet: number): Record<string, BinaryCase> {
  const key = `b-${name}`
  const quietName = `${name.toUpperCase()}Q`
  return {
    'existing key keeps its flags': {
      setup: [setReq(key, 'a', 7)],
      send: [
        { opcode, key, value: 'b' },
        { opcode: Op.get, key },
      ],
    },
    'missing key': { send: [{ opcode, key: 'b-none', value: 'b' }] },
    [quietName]: {
      setup: [setReq(`${key}q`, 'a')],
      send: [
        { opcode: quiet, key: `${key}q`, value: 'b' },
        { opcode: Op.get, key: `${key}q` },
      ],
    },
    [`${quietName} missing key`]: { send: [{ opcode: quiet, key: 'b-none', value: 'b' }] },
  }
}

/** One entry per binary command label (gets/gats are text-only; binary GET always has the cas). */
const BINARY_CASES: Record<Exclude<Command, 'gets' | 'gats'>, Record<string, BinaryCase>> = {
  stats: {
    all: { send: [{ opcode: Op.stat }], stats: 'general' },
    settings: { send: [{ opcode: Op.stat, key: 'settings' }], stats: 'settings' },
    items: { send: [{ opcode: Op.stat, key: 'items' }], stats: 'other' },
    slabs: { send: [{ opcode: Op.stat, key: 'slabs' }], stats: 'other' },
    sizes: { send: [{ opcode: Op.stat, key: 'sizes' }], stats: 'other' },
    reset: { send: [{ opcode: Op.stat, key: 'reset' }] },
    'reset, matched as a prefix': { send: [{ opcode: Op.stat, key: 'resetting' }] },
    'unknown key': { send: [{ opcode: Op.stat, key: 'bogus' }] },
  },
  get: {
    hit: { setup: [setReq('b-get', 'alpha', 0xcafe)], send: [{ opcode: Op.get, key: 'b-get' }] },
    miss: { send: [{ opcode: Op.get, key: 'b-none' }] },
    'GETK hit': { setup: [setReq('b-getk', 'a')], send: [{ opcode: Op.getk, key: 'b-getk' }] },
    'GETK miss': { send: [{ opcode: Op.getk, key: 'b-none' }] },
    'GETQ hit and miss': {
      setup: [setReq('b-getq', 'q')],
      send: [
        { opcode: Op.getq, key: 'b-none', opaque: 1 },
        { opcode: Op.getq, key: 'b-getq', opaque: 2 },
      ],
    },
    'GETKQ hit and miss': {
      setup: [setReq('b-getkq', 'q')],
      send: [
        { opcode: Op.getkq, key: 'b-getkq', opaque: 1 },
        { opcode: Op.getkq, key: 'b-none', opaque: 2 },
      ],
    },
    'no key': {
      send: [{ opcode: Op.get }],
      differs: {
        ours: 'op=0x00 status=0x0004 opaque=0xdeadbeef cas=0 extras= key= value=Invalid arguments',
        why: SHAPE,
      },
    },
  },
  set: {
    SET: { send: [setReq('b-set', 'v', 5), { opcode: Op.get, key: 'b-set' }] },
    SETQ: {
      send: [
        { ...setReq('b-setq', 'v'), opcode: Op.setq },
        { opcode: Op.get, key: 'b-setq' },
      ],
    },
    'SET past exptime': {
      send: [
        { opcode: Op.set, key: 'b-set-past', value: 'v', extras: storeExtras(0, 1_000_000_000) },
        { opcode: Op.get, key: 'b-set-past' },
      ],
    },
    'over memcached item size': { send: [setReq('b-set-big', big(2_000_000))] },
    'over memcached item size, SETQ': { send: [{ ...setReq('b-set-big', big(2_000_000)), opcode: Op.setq }] },
  },
  add: {
    'new key': { send: [{ ...setReq('b-add', 'v'), opcode: Op.add }] },
    'existing key': {
      setup: [setReq('b-add-old', 'o')],
      send: [{ ...setReq('b-add-old', 'n'), opcode: Op.add }],
    },
    'ADDQ new key': { send: [{ ...setReq('b-addq', 'v'), opcode: Op.addq }] },
    'ADDQ existing key': {
      setup: [setReq('b-addq-old', 'o')],
      send: [{ ...setReq('b-addq-old', 'n'), opcode: Op.addq }],
    },
  },
  replace: {
    'missing key': { send: [{ ...setReq('b-none', 'v'), opcode: Op.replace }] },
    'existing key': {
      setup: [setReq('b-rep', 'o')],
      send: [
        { ...setReq('b-rep', 'n', 2), opcode: Op.replace },
        { opcode: Op.get, key: 'b-rep' },
      ],
    },
    'REPLACEQ missing key': { send: [{ ...setReq('b-none', 'v'), opcode: Op.replaceq }] },
  },
  append: concatCases('append', Op.append, Op.appendq),
  prepend: concatCases('prepend', Op.prepend, Op.prependq),
  cas: {
    'SET with the current cas': {
      setup: [setReq('b-cas', 'o')],
      send: ([stored]) => [setReq('b-cas', 'n', 0, stored!.cas), { opcode: Op.get, key: 'b-cas' }],
    },
    'SET with a stale cas': { setup: [setReq('b-cas-old', 'o')], send: [setReq('b-cas-old', 'n', 0, 1n)] },
    'SET with a cas, missing key': { send: [setReq('b-none', 'n', 0, 1n)] },
    'SETQ with a stale cas': {
      setup: [setReq('b-casq', 'o')],
      send: [{ ...setReq('b-casq', 'n', 0, 1n), opcode: Op.setq }],
    },
    'REPLACE with a stale cas': {
      setup: [setReq('b-cas-rep', 'o')],
      send: [{ ...setReq('b-cas-rep', 'n', 0, 1n), opcode: Op.replace }],
    },
    'DELETE with the current cas': {
      setup: [setReq('b-cas-del', 'o')],
      send: ([stored]) => [{ opcode: Op.delete, key: 'b-cas-del', cas: stored!.cas }],
    },
    'DELETE with a stale cas': {
      setup: [setReq('b-cas-del2', 'o')],
      send: [{ opcode: Op.delete, key: 'b-cas-del2', cas: 1n }],
    },
  },
  delete: {
    hit: { setup: [setReq('b-del', 'x')], send: [{ opcode: Op.delete, key: 'b-del' }] },
    miss: { send: [{ opcode: Op.delete, key: 'b-none' }] },
    'DELETEQ hit': { setup: [setReq('b-delq', 'x')], send: [{ opcode: Op.deleteq, key: 'b-delq' }] },
    'DELETEQ miss': { send: [{ opcode: Op.deleteq, key: 'b-none' }] },
  },
  touch: {
    hit: {
      setup: [setReq('b-touch', 'x', 3)],
      send: [{ opcode: Op.touch, key: 'b-touch', extras: u32(100) }],
    },
    miss: { send: [{ opcode: Op.touch, key: 'b-none', extras: u32(100) }] },
  },
  gat: {
    hit: { setup: [setReq('b-gat', 'x', 3)], send: [{ opcode: Op.gat, key: 'b-gat', extras: u32(100) }] },
    miss: { send: [{ opcode: Op.gat, key: 'b-none', extras: u32(100) }] },
    'GATQ hit and miss': {
      setup: [setReq('b-gatq', 'x')],
      send: [
        { opcode: Op.gatq, key: 'b-none', extras: u32(100), opaque: 1 },
        { opcode: Op.gatq, key: 'b-gatq', extras: u32(100), opaque: 2 },
      ],
    },
    'GATK hit': {
      setup: [setReq('b-gatk', 'x')],
      send: [{ opcode: Op.gatk, key: 'b-gatk', extras: u32(100) }],
    },
    'GATKQ hit': {
      setup: [setReq('b-gatkq', 'x')],
      send: [{ opcode: Op.gatkq, key: 'b-gatkq', extras: u32(100) }],
    },
  },
  incr: {
    refused: {
      send: [{ opcode: Op.incr, key: 'b-incr', extras: Buffer.alloc(20) }],
      differs: {
        ours: 'op=0x05 status=0x0083 opaque=0xdeadbeef cas=0 extras= key= value=Not supported',
        why: SESSIONS,
      },
    },
    'INCRQ refused': {
      send: [{ opcode: Op.incrq, key: 'b-incrq', extras: Buffer.alloc(20) }],
      differs: {
        ours: 'op=0x15 status=0x0083 opaque=0xdeadbeef cas=0 extras= key= value=Not supported',
        why: SESSIONS,
      },
    },
  },
  decr: {
    refused: {
      send: [{ opcode: Op.decr, key: 'b-decr', extras: Buffer.alloc(20) }],
      differs: {
        ours: 'op=0x06 status=0x0083 opaque=0xdeadbeef cas=0 extras= key= value=Not supported',
        why: SESSIONS,
      },
    },
  },
  version: {
    VERSION: { send: [{ opcode: Op.version }] },
  },
  verbosity: {
    'unknown to memcached 1.6': { send: [{ opcode: Op.verbosity }] },
  },
  flush_all: {
    FLUSH: {
      setup: [setReq('b-flush', 'x')],
      send: [{ opcode: Op.flush }, { opcode: Op.get, key: 'b-flush' }],
      flushAllowed: true,
    },
    FLUSHQ: { send: [{ opcode: Op.flushq }], flushAllowed: true },
    'FLUSH with a zero delay': { send: [{ opcode: Op.flush, extras: u32(0) }], flushAllowed: true },
    'not allowed': {
      send: [{ opcode: Op.flush }],
      differs: {
        ours: 'op=0x08 status=0x0083 opaque=0xdeadbeef cas=0 extras= key= value=Not supported',
        why: FLUSH_REFUSED,
      },
    },
    'FLUSHQ not allowed': {
      send: [{ opcode: Op.flushq }],
      differs: {
        ours: 'op=0x18 status=0x0083 opaque=0xdeadbeef cas=0 extras= key= value=Not supported',
        why: FLUSH_REFUSED,
      },
    },
  },
  noop: {
    NOOP: { send: [{ opcode: Op.noop, opaque: 7 }] },
  },
  quit: {
    QUIT: { send: [{ opcode: Op.quit }] },
    QUITQ: { send: [{ opcode: Op.quitq }] },
  },
  unknown: {
    'opcode 0x40': { send: [{ opcode: 0x40 }] },
    'opcode 0x40 with a value': { send: [{ opcode: 0x40, value: 'ignored' }] },
  },
}

// ---- talking to a server: a fresh connection per case, a sentinel marking the end of the replies

interface Target {
  port: number
}

let sentinels = 0

/** A set and a get of a fresh nonce: its reply cannot be part of any case's, and survives flushes. */
function textSentinel(): { request: Buffer; reply: Buffer } {
  const nonce = `s${++sentinels}`
  return {
    request: Buffer.from(`set t-sentinel 0 0 ${nonce.length}\r\n${nonce}\r\nget t-sentinel\r\n`, 'latin1'),
    reply: Buffer.from(`STORED\r\nVALUE t-sentinel 0 ${nonce.length}\r\n${nonce}\r\nEND\r\n`, 'latin1'),
  }
}

async function textExchange(conn: RawConnection, bytes: string): Promise<string> {
  const sentinel = textSentinel()
  conn.send(Buffer.concat([Buffer.from(bytes, 'latin1'), sentinel.request]))
  const end = sentinel.reply
  try {
    const raw = await conn.read(
      (b) => (b.length >= end.length && b.subarray(-end.length).equals(end) ? b.length : undefined),
      5000,
    )
    return raw.subarray(0, raw.length - end.length).toString('latin1')
  } catch (err) {
    if (conn.closed) return `${conn.buffered.toString('latin1')}<closed>`
    throw err
  }
}

async function runText(target: Target, c: TextCase): Promise<string> {
  const conn = await RawConnection.open(target.port)
  try {
    const setupReply = c.setup === undefined ? '' : await textExchange(conn, c.setup)
    return await textExchange(conn, typeof c.send === 'function' ? c.send(setupReply) : c.send)
  } finally {
    conn.close()
  }
}

function parsePackets(b: Buffer): { packets: Packet[]; rest: number } {
  const packets: Packet[] = []
  let offset = 0
  while (b.length - offset >= 24) {
    const total = 24 + b.readUInt32BE(offset + 8)
    if (b.length - offset < total) break
    const extrasLength = b[offset + 4]!
    const keyLength = b.readUInt16BE(offset + 2)
    const body = b.subarray(offset + 24, offset + total)
    packets.push({
      magic: b[offset]!,
      opcode: b[offset + 1]!,
      status: b.readUInt16BE(offset + 6),
      opaque: b.readUInt32BE(offset + 12),
      cas: b.readBigUInt64BE(offset + 16),
      extras: body.subarray(0, extrasLength),
      key: body.subarray(extrasLength, extrasLength + keyLength),
      value: body.subarray(extrasLength + keyLength),
    })
    offset += total
  }
  return { packets, rest: b.length - offset }
}

/** The responses before the sentinel's, or all that came before the server closed the connection. */
interface BinaryReply {
  packets: Packet[]
  closed: boolean
}

async function binaryExchange(conn: RawConnection, reqs: BinaryRequest[]): Promise<BinaryReply> {
  const opaque = 0x5e_000000 + ++sentinels
  conn.send(Buffer.concat([...reqs.map(binaryRequest), binaryRequest({ opcode: Op.noop, opaque })]))
  const isSentinel = (p: Packet): boolean => p.opcode === Op.noop && p.opaque === opaque
  try {
    const raw = await conn.read((b) => {
      const { packets, rest } = parsePackets(b)
      return rest === 0 && packets.length > 0 && isSentinel(packets.at(-1)!) ? b.length : undefined
    }, 5000)
    return { packets: parsePackets(raw).packets.slice(0, -1), closed: false }
  } catch (err) {
    if (conn.closed) return { packets: parsePackets(conn.buffered).packets, closed: true }
    throw err
  }
}

async function runBinary(target: Target, c: BinaryCase): Promise<BinaryReply> {
  const conn = await RawConnection.open(target.port)
  try {
    const setup = c.setup === undefined ? { packets: [], closed: false } : await binaryExchange(conn, c.setup)
    if (setup.closed) throw new Error('closed during setup')
    return await binaryExchange(conn, typeof c.send === 'function' ? c.send(setup.packets) : c.send)
  } finally {
    conn.close()
  }
}

// ---- normalising and comparing

const VERSION_LINE = /^VERSION \S+\r$/gm
const CAS_IN_VALUE = /^(VALUE \S+ \d+ \d+) \d+\r$/gm

function normaliseText(reply: string): string {
  return reply.replace(VERSION_LINE, 'VERSION <version>\r').replace(CAS_IN_VALUE, '$1 <cas>\r')
}

function normalisePackets({ packets, closed }: BinaryReply): string {
  const lines = packets.map((p) => {
    const value = p.opcode === Op.version && p.status === 0 ? '<version>' : p.value.toString('latin1')
    const cas = p.cas === 0n ? '0' : '<cas>'
    return `op=0x${hex(p.opcode, 2)} status=0x${hex(p.status, 4)} opaque=0x${hex(p.opaque, 8)} cas=${cas} extras=${p.extras.toString('hex')} key=${p.key.toString('latin1')} value=${value}`
  })
  if (closed) lines.push('<closed>')
  return lines.join('\n')
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0')

type StatList = Array<[string, string]>

function textStats(reply: string): StatList | undefined {
  if (!reply.endsWith('END\r\n')) return undefined
  const lines = reply
    .slice(0, -'END\r\n'.length)
    .split('\r\n')
    .filter((l) => l.length > 0)
  const out: StatList = []
  for (const line of lines) {
    const match = /^STAT (\S+) (.*)$/.exec(line)
    if (match === null) return undefined
    out.push([match[1]!, match[2]!])
  }
  return out
}

function binaryStats({ packets, closed }: BinaryReply): StatList | undefined {
  if (closed) return undefined
  const last = packets.at(-1)
  if (last === undefined || last.key.length > 0 || last.value.length > 0) return undefined
  if (packets.some((p) => p.opcode !== Op.stat || p.status !== 0)) return undefined
  return packets.slice(0, -1).map((p) => [p.key.toString('latin1'), p.value.toString('latin1')])
}

/**
 * Our list against memcached's: our names are among memcached's and in its order (a reader may
 * expect its order), every required one is there, and a value is a number where memcached's is.
 */
function statsProblems(
  memcached: StatList | undefined,
  ours: StatList | undefined,
  required: string[],
): string[] {
  if (memcached === undefined) return ['memcached did not answer a stats list']
  if (ours === undefined) return ['we did not answer a stats list']
  const problems: string[] = []
  const order = new Map(memcached.map(([name], i) => [name, i]))
  let last = -1
  for (const [name, value] of ours) {
    const at = order.get(name)
    if (at === undefined) {
      problems.push(`${name}: memcached has no such stat`)
      continue
    }
    if (at < last) problems.push(`${name}: out of memcached's order`)
    last = Math.max(last, at)
    const theirs = memcached[at]![1]
    if (/^-?\d+(\.\d+)?$/.test(theirs) && !/^-?\d+(\.\d+)?$/.test(value)) {
      problems.push(`${name}: ${JSON.stringify(value)} is not a number like memcached's ${theirs}`)
    }
  }
  const names = new Set(ours.map(([name]) => name))
  for (const name of required) if (!names.has(name)) problems.push(`${name}: missing`)
  return problems
}

interface Row {
  protocol: 'text' | 'binary'
  command: string
  form: string
  outcome: 'agree' | 'differs by design'
}

const rows: Row[] = []

/** One server's reply to a case, as compared. */
interface Side {
  normalised: string
  stats: StatList | undefined
}

/** Checks one case's two replies; records the row. */
function judge(
  row: Omit<Row, 'outcome'>,
  c: { stats?: 'general' | 'settings' | 'other'; differs?: Deliberate },
  memcached: Side,
  ours: Side,
): void {
  if (c.stats !== undefined) {
    const required = c.stats === 'general' ? REQUIRED_STATS : c.stats === 'settings' ? REQUIRED_SETTINGS : []
    expect(statsProblems(memcached.stats, ours.stats, required)).toEqual([])
    rows.push({ ...row, outcome: 'agree' })
    return
  }
  if (c.differs !== undefined) {
    expect(ours.normalised, 'our deliberate answer').toBe(c.differs.ours)
    expect(memcached.normalised, `memcached answers the same: "${c.differs.why}" is stale`).not.toBe(
      c.differs.ours,
    )
    rows.push({ ...row, outcome: 'differs by design' })
    return
  }
  expect(ours.normalised).toBe(memcached.normalised)
  rows.push({ ...row, outcome: 'agree' })
}

// ---- the servers

/** LocalSessionCache has no flush; this one drops every live record of the realm. */
function flushableCache(now: () => number): {
  cache: FlushableSessionCache
  store: ReturnType<typeof createReplicaStore>
} {
  const store = createReplicaStore({})
  const local = new LocalSessionCache({ store, now })
  const cache: FlushableSessionCache = {
    get: (realm, id) => local.get(realm, id),
    set: (realm, id, value, ttlMs) => local.set(realm, id, value, ttlMs),
    delete: (realm, id) => local.delete(realm, id),
    touch: (realm, id, ttlMs) => local.touch(realm, id, ttlMs),
    flush(realm) {
      const live = [...store.entries(realm, now())].filter((record) => record.value !== undefined)
      for (const record of live) local.delete(realm, record.id)
    },
  }
  return { cache, store }
}

async function startMemcached(): Promise<{ process: ManagedProcess; port: number }> {
  const port = await freePort()
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64']
  // memcached refuses to run as root unless told which user to be.
  if (process.getuid?.() === 0) args.push('-u', 'root')
  const memcached = startProcess('memcached', MEMCACHED, args)
  await waitForPort('127.0.0.1', port, memcached)
  return { process: memcached, port }
}

describe.skipIf(!existsSync(MEMCACHED))('the memcached endpoint answers as memcached 1.6 does', () => {
  let memcached: { process: ManagedProcess; port: number }
  let ours: Endpoint
  let oursFlushing: Endpoint

  beforeAll(async () => {
    memcached = await startMemcached()
    ours = await startEndpoint()
    const flushable = flushableCache(Date.now)
    oursFlushing = await startEndpoint({
      init: { allowFlushAll: true },
      components: {
        cache: flushable.cache,
        now: Date.now,
        cacheUsage: replicaCacheUsage(flushable.store, 'default'),
      },
    })
  })

  afterAll(async () => {
    await ours?.close()
    await oursFlushing?.close()
    await memcached?.process.stop()
    const count = (protocol: Row['protocol'], outcome: Row['outcome']): number =>
      rows.filter((r) => r.protocol === protocol && r.outcome === outcome).length
    const commands = (protocol: Row['protocol']): number =>
      new Set(rows.filter((r) => r.protocol === protocol).map((r) => r.command)).size
    console.log(
      ['text', 'binary']
        .map((p) => {
          const protocol = p as Row['protocol']
          return `${protocol}: ${commands(protocol)} commands, ${count(protocol, 'agree')} forms agree with memcached 1.6, ${count(protocol, 'differs by design')} differ by design`
        })
        .join('\n'),
    )
  })

  const oursFor = (c: { flushAllowed?: boolean }): Target => ({
    port: c.flushAllowed ? oursFlushing.port : ours.port,
  })

  /** One test per form: the same case against memcached and against us, judged side by side. */
  function sideBySide<C extends TextCase | BinaryCase, R>(
    protocol: Row['protocol'],
    table: Record<string, Record<string, C>>,
    exchange: (target: Target, c: C) => Promise<R>,
    view: (reply: R) => Side,
  ): void {
    for (const [command, cases] of Object.entries(table)) {
      for (const [form, c] of Object.entries(cases)) {
        it(`${command}: ${form}`, async () => {
          const theirs = view(await exchange({ port: memcached.port }, c))
          const mine = view(await exchange(oursFor(c), c))
          judge({ protocol, command, form }, c, theirs, mine)
        })
      }
    }
  }

  describe('text protocol', () => {
    sideBySide('text', TEXT_CASES, runText, (reply) => ({
      normalised: normaliseText(reply),
      stats: textStats(reply),
    }))
  })

  describe('stats counters', () => {
    /** `stats` on its own connection, as numbers. */
    async function statsOf(port: number): Promise<Map<string, number>> {
      const conn = await RawConnection.open(port)
      try {
        conn.send('stats\r\n')
        const list = textStats(
          (
            await conn.read((b) => (b.toString('latin1').endsWith('END\r\n') ? b.length : undefined))
          ).toString('latin1'),
        )
        return new Map((list ?? []).map(([name, value]) => [name, Number(value)]))
      } finally {
        conn.close()
      }
    }

    /** The same text and binary requests to a server, each on its own connection; replies dropped. */
    async function workload(port: number, prefix: string): Promise<void> {
      const text: TextCase[] = [
        {
          send: `set ${prefix}a 0 0 1\r\nx\r\nget ${prefix}a ${prefix}a ${prefix}none\r\ngets ${prefix}a\r\n`,
        },
        {
          send: `gat 100 ${prefix}a ${prefix}none\r\ngats 100 ${prefix}a\r\ntouch ${prefix}a 10\r\ntouch ${prefix}none 10\r\n`,
        },
        { send: `add ${prefix}a 0 0 1\r\nx\r\nreplace ${prefix}none 0 0 1\r\nx\r\n` },
        { send: `append ${prefix}a 0 0 1\r\ny\r\nprepend ${prefix}a 0 0 1 noreply\r\nz\r\n` },
        { send: `cas ${prefix}a 0 0 1 1\r\nz\r\ncas ${prefix}none 0 0 1 1\r\nz\r\n` },
        { setup: `gets ${prefix}a\r\n`, send: (r) => `cas ${prefix}a 0 0 1 ${casOf(r)}\r\nw\r\n` },
        { send: `set ${prefix}big 0 0 2000000\r\n${big(2_000_000)}\r\n` },
        { send: `delete ${prefix}a\r\ndelete ${prefix}a\r\nflush_all noreply\r\n` },
      ]
      for (const c of text) await runText({ port }, c)
      await runBinary(
        { port },
        {
          send: [
            setReq(`${prefix}b`, 'x'),
            { opcode: Op.get, key: `${prefix}b` },
            { opcode: Op.getq, key: `${prefix}none` },
            { opcode: Op.gat, key: `${prefix}b`, extras: u32(100) },
            { opcode: Op.touch, key: `${prefix}none`, extras: u32(100) },
            { opcode: Op.delete, key: `${prefix}b` },
            { opcode: Op.deleteq, key: `${prefix}b` },
          ],
        },
      )
    }

    it("move as memcached's do for the same requests", async () => {
      const before = await Promise.all([statsOf(memcached.port), statsOf(ours.port)])
      await workload(memcached.port, 'w-')
      await workload(ours.port, 'w-')
      const after = await Promise.all([statsOf(memcached.port), statsOf(ours.port)])
      const delta = (i: 0 | 1): Record<string, number> =>
        Object.fromEntries(COUNTERS.map((name) => [name, after[i].get(name)! - before[i].get(name)!]))
      expect(delta(1)).toEqual(delta(0))
      // Accounting differs (item headers against record overhead); both must grow with what is kept.
      expect(after[1].get('bytes_read')!).toBeGreaterThan(before[1].get('bytes_read')! + 2_000_000)
      expect(after[1].get('bytes_written')!).toBeGreaterThan(before[1].get('bytes_written')!)
    })

    it('curr_items and bytes grow with new keys; uptime and time follow the clock', async () => {
      const before = await statsOf(ours.port)
      await runText(
        { port: ours.port },
        { send: 'set i-1 0 0 1\r\nx\r\nset i-2 0 0 1\r\nx\r\nset i-3 0 0 1\r\nx\r\n' },
      )
      ours.clock.now += 5_000
      const after = await statsOf(ours.port)
      expect(after.get('curr_items')! - before.get('curr_items')!).toBe(3)
      expect(after.get('bytes')!).toBeGreaterThan(before.get('bytes')!)
      expect(after.get('uptime')! - before.get('uptime')!).toBe(5)
      expect(after.get('time')).toBe(Math.floor(ours.clock.now / 1000))
      expect(after.get('pid')).toBe(process.pid)
      expect(after.get('limit_maxbytes')).toBeGreaterThan(0)
    })

    it('stats reset zeroes the counters, not what is open or stored', async () => {
      const conn = await RawConnection.open(ours.port)
      conn.send('stats reset\r\n')
      expect(await conn.line()).toBe('RESET')
      const after = await statsOf(ours.port)
      expect(after.get('cmd_get')).toBe(0)
      expect(after.get('total_connections')).toBe(1)
      expect(after.get('curr_connections')).toBe(2)
      expect(after.get('curr_items')).toBeGreaterThan(0)
      conn.close()
    })
  })

  describe('memcached-tool', () => {
    const tool = (port: number, mode: string) =>
      execFileAsync('perl', [MEMCACHED_TOOL, `127.0.0.1:${port}`, mode], { timeout: 10_000 })

    it.skipIf(!existsSync(MEMCACHED_TOOL))('stats shows every field monitoring reads', async () => {
      const { stdout } = await tool(ours.port, 'stats')
      expect(stdout.split('\n')[0]).toMatch(new RegExp(`^#127\\.0\\.0\\.1:${ours.port}\\s+Field\\s+Value$`))
      for (const name of REQUIRED_STATS) expect(stdout).toMatch(new RegExp(`^\\s+${name}\\s+\\S+$`, 'm'))
      expect(stdout).toMatch(/^\s+version\s+1\.6\.0-tlsmesh-test$/m)
    })

    it.skipIf(!existsSync(MEMCACHED_TOOL))(
      'settings, sizes and the default slab display complete',
      async () => {
        expect((await tool(ours.port, 'settings')).stdout).toMatch(/^\s+item_size_max\s+16384$/m)
        expect((await tool(ours.port, 'sizes')).stdout).toMatch(/^\s+sizes_status\s+disabled$/m)
        expect((await tool(ours.port, 'display')).stdout).toMatch(/^\s+#\s+Item_Size/)
      },
    )
  })

  describe('binary protocol', () => {
    sideBySide('binary', BINARY_CASES, runBinary, (reply) => ({
      normalised: normalisePackets(reply),
      stats: binaryStats(reply),
    }))
  })
})
