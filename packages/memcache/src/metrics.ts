import { Counter, Gauge, Histogram, type HistogramConfiguration, type Registry } from 'prom-client'

export const PROTOCOLS = ['text', 'binary'] as const
export type Protocol = (typeof PROTOCOLS)[number]

/** The `command` label: both protocols map onto it (GETKQ counts as `get`), anything else is `unknown`. */
export const COMMANDS = [
  'get',
  'gets',
  'gat',
  'gats',
  'set',
  'add',
  'replace',
  'append',
  'prepend',
  'cas',
  'delete',
  'touch',
  'incr',
  'decr',
  'version',
  'verbosity',
  'flush_all',
  'stats',
  'noop',
  'quit',
  'unknown',
] as const
export type Command = (typeof COMMANDS)[number]

/** The `listener` label: the loopback TCP port or the unix socket, each with its own connection limit. */
export const LISTENERS = ['tcp', 'unix'] as const
export type ListenerKind = (typeof LISTENERS)[number]

/** The `reason` label of `tlsmesh_memcache_connections_refused_total`. */
export const REFUSAL_REASONS = [
  /** The listener's `maxTcpConnections` / `maxSocketConnections` were open. */
  'connection-limit',
  /** Accepted while the server starts or stops. */
  'stopping',
  /** `allowUids`: the client's socket belongs to another user. */
  'user-not-allowed',
  /** `allowUids`: the client's socket was not found in /proc/net/tcp in time. */
  'owner-unknown',
] as const
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

/** The `reason` label of `tlsmesh_memcache_errors_total`. */
export const ERROR_REASONS = [
  /** Text `ERROR`, binary 0x0081. */
  'unknown-command',
  /** A text command line that does not parse; a binary request with the wrong extras/key/body sizes. */
  'bad-request',
  /** Empty, over 250 bytes, or (text) with control characters. */
  'bad-key',
  'line-too-long',
  /** A text data block not followed by `\r\n` where the announced length says it ends. */
  'bad-data-chunk',
  /** A binary request that does not start with the request magic 0x80. */
  'bad-magic',
  /** Over `maxValueBytes`, or refused by the cache as too large. */
  'value-too-large',
  /** incr/decr, a flush delay. */
  'not-supported',
  'flush-disabled',
  /** The cache refused a write for another reason (realm not served, ...). */
  'cache-refused',
  /** A bug of ours: the request got an internal-error reply, the process kept serving. */
  'internal',
  'idle-timeout',
  /** No whole command within `firstCommandTimeoutMs` of the connection. */
  'first-command-timeout',
  'socket-error',
] as const
export type ErrorReason = (typeof ERROR_REASONS)[number]

/**
 * Buckets of `tlsmesh_memcache_command_duration_seconds`: few, so that an observation is a short
 * scan. A lookup in the replica takes microseconds; the upper ones catch a stalled event loop
 * (the design's target is p99 <= 5 ms).
 */
export const COMMAND_DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.001, 0.005, 0.025, 0.1] as const

/** What one endpoint counted, as plain integers: the hot path only adds to them. */
export class MemcacheCounts {
  readonly commands: Record<Protocol, Record<Command, number>> = {
    text: zeroes(COMMANDS),
    binary: zeroes(COMMANDS),
  }
  readonly errors: Record<ErrorReason, number> = zeroes(ERROR_REASONS)
  hits = 0
  misses = 0
  readonly connections: Record<ListenerKind, number> = zeroes(LISTENERS)
  readonly refused: Record<ListenerKind, Record<RefusalReason, number>> = {
    tcp: zeroes(REFUSAL_REASONS),
    unix: zeroes(REFUSAL_REASONS),
  }
  /** Per command, how many durations fell in each of `COMMAND_DURATION_BUCKETS` (not cumulative), then above. */
  readonly durations: Record<Command, Float64Array> = byLabel(
    COMMANDS,
    () => new Float64Array(COMMAND_DURATION_BUCKETS.length + 1),
  )
  /** Per command, the sum of its durations in seconds. */
  readonly durationSums: Record<Command, number> = zeroes(COMMANDS)
}

/** An endpoint's totals, for a status page. */
export interface MemcacheTotals {
  commands: number
  hits: number
  misses: number
  connections: number
  errors: number
}

/**
 * The endpoint's metrics, as the mesh keeps its own: plain integers on the hot path (`counts`),
 * which prom-client reads only when /metrics is scraped. Several servers may share a registry (a
 * TCP and a socket listener of two realms): each metric is then the sum over them. The command
 * latency histogram is prom-client's own.
 */
export class MemcacheMetrics {
  readonly counts = new MemcacheCounts()
  readonly #now: () => number

  /** `now` in milliseconds, monotonic (default `performance.now`). */
  constructor(registry: Registry | undefined, now: () => number = () => performance.now()) {
    this.#now = now
    if (registry !== undefined) countsOf(registry).add(this.counts)
  }

  /** A start time for `commandDone`. */
  started(): number {
    return this.#now()
  }

  /**
   * Counts the command's duration since `started` (from `started()`) in its bucket: prom-client's
   * own observe (label checks and hashing per call) was 3% of a set's CPU in tlsmeshd's profile.
   */
  commandDone(command: Command, started: number): void {
    const seconds = (this.#now() - started) / 1000
    let bucket = 0
    while (bucket < COMMAND_DURATION_BUCKETS.length && seconds > COMMAND_DURATION_BUCKETS[bucket]!) bucket++
    this.counts.durations[command][bucket]!++
    this.counts.durationSums[command] += seconds
  }

  command(protocol: Protocol, command: Command): void {
    this.counts.commands[protocol][command]++
  }

  error(reason: ErrorReason): void {
    this.counts.errors[reason]++
  }

  lookup(hit: boolean): void {
    if (hit) this.counts.hits++
    else this.counts.misses++
  }

  connectionOpened(listener: ListenerKind): void {
    this.counts.connections[listener]++
  }

  connectionClosed(listener: ListenerKind): void {
    this.counts.connections[listener]--
  }

  connectionRefused(listener: ListenerKind, reason: RefusalReason): void {
    this.counts.refused[listener][reason]++
  }

  totals(): MemcacheTotals {
    const { counts } = this
    return {
      commands: sum(PROTOCOLS.flatMap((protocol) => Object.values(counts.commands[protocol]))),
      hits: counts.hits,
      misses: counts.misses,
      connections: sum(Object.values(counts.connections)),
      errors: sum(Object.values(counts.errors)),
    }
  }
}

/** The counts of every endpoint that reports to `registry`, registered with it on first use. */
const countsByRegistry = new WeakMap<Registry, Set<MemcacheCounts>>()

function countsOf(registry: Registry): Set<MemcacheCounts> {
  let all = countsByRegistry.get(registry)
  if (all === undefined) {
    all = new Set()
    countsByRegistry.set(registry, all)
    registerCounts(registry, all)
  }
  return all
}

function registerCounts(registry: Registry, all: Set<MemcacheCounts>): void {
  const registers = [registry]
  const total = (pick: (counts: MemcacheCounts) => number): number => sum([...all].map(pick))
  /** A counter whose values, by label, are read from the endpoints' counts when scraped. */
  const collected = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => Array<[Record<string, string>, number]>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset()
        for (const [labels, value] of read()) this.inc(labels, value)
      },
    })
  }
  collected(
    'tlsmesh_memcache_commands_total',
    'memcached commands received, by command and protocol',
    ['command', 'protocol'],
    () =>
      PROTOCOLS.flatMap((protocol) =>
        COMMANDS.map((command): [Record<string, string>, number] => [
          { command, protocol },
          total((c) => c.commands[protocol][command]),
        ]),
      ),
  )
  collected(
    'tlsmesh_memcache_errors_total',
    'memcached requests and connections refused or failed, by reason',
    ['reason'],
    () => ERROR_REASONS.map((reason) => [{ reason }, total((c) => c.errors[reason])]),
  )
  collected('tlsmesh_memcache_hits_total', 'keys looked up by get/gets/gat/gats and found', [], () => [
    [{}, total((c) => c.hits)],
  ])
  collected('tlsmesh_memcache_misses_total', 'keys looked up by get/gets/gat/gats and not found', [], () => [
    [{}, total((c) => c.misses)],
  ])
  collected(
    'tlsmesh_memcache_connections_refused_total',
    'connections closed before any command was read, by listener and reason',
    ['listener', 'reason'],
    () =>
      LISTENERS.flatMap((listener) =>
        REFUSAL_REASONS.map((reason): [Record<string, string>, number] => [
          { listener, reason },
          total((c) => c.refused[listener][reason]),
        ]),
      ),
  )
  new CollectedHistogram(
    {
      name: 'tlsmesh_memcache_command_duration_seconds',
      help: 'Time to execute a memcached command once it has arrived whole (a storage command from its data block), by command',
      labelNames: ['command'],
      buckets: [...COMMAND_DURATION_BUCKETS],
      registers,
    },
    () => all,
  )
  new Gauge({
    name: 'tlsmesh_memcache_connections',
    help: 'open memcached connections, by listener',
    labelNames: ['listener'],
    registers,
    collect() {
      for (const listener of LISTENERS)
        this.set(
          { listener },
          total((c) => c.connections[listener]),
        )
    },
  })
}

/** A prom-client value before its labels are merged (what `getForPromString` hands the registry). */
interface ExportedValue {
  labels: Record<string, string | number>
  sharedLabels: Record<string, string>
  value: number
  metricName: string
}

/**
 * `tlsmesh_memcache_command_duration_seconds`, exported as prom-client's Histogram exports it (the
 * same samples, labels and order, and only commands seen), but read from the endpoints' plain bucket
 * counts when scraped instead of observed one call at a time.
 */
class CollectedHistogram extends Histogram<'command'> {
  readonly #counts: () => Iterable<MemcacheCounts>
  readonly #name: string
  readonly #help: string

  constructor(config: HistogramConfiguration<'command'>, counts: () => Iterable<MemcacheCounts>) {
    super(config)
    this.#counts = counts
    this.#name = config.name
    this.#help = config.help
  }

  async getForPromString(): Promise<{
    name: string
    help: string
    type: 'histogram'
    values: ExportedValue[]
    aggregator: 'sum'
  }> {
    const name = this.#name
    const values: ExportedValue[] = []
    for (const command of COMMANDS) {
      const buckets = new Float64Array(COMMAND_DURATION_BUCKETS.length + 1)
      let sum = 0
      for (const counts of this.#counts()) {
        const own = counts.durations[command]
        for (let i = 0; i < buckets.length; i++) buckets[i]! += own[i]!
        sum += counts.durationSums[command]
      }
      const count = buckets.reduce((a, b) => a + b, 0)
      if (count === 0) continue
      const sharedLabels = { command }
      let cumulative = 0
      COMMAND_DURATION_BUCKETS.forEach((le, i) => {
        cumulative += buckets[i]!
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: `${name}_bucket` })
      })
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: count, metricName: `${name}_bucket` },
        { labels: {}, sharedLabels, value: sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels, value: count, metricName: `${name}_count` },
      )
    }
    return { name, help: this.#help, type: 'histogram', values, aggregator: 'sum' }
  }
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return byLabel(keys, () => 0)
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

function byLabel<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
  const out = {} as Record<K, V>
  for (const key of keys) out[key] = make(key)
  return out
}
