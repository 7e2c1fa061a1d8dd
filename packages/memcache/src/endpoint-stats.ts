import type { ReplicaStore } from '@tlsmesh/store'
import type { MemcacheAddress } from './memcache-server.ts'

/** What `stats` reports of the cache behind an endpoint. Read only when a client asks. */
export interface CacheUsage {
  /** Records of the endpoint's realm (`curr_items`); a replica counts its unexpired tombstones too. */
  readonly items: number
  /** Bytes those records are accounted for (`bytes`). */
  readonly bytes: number
  /** The realm's byte budget (`limit_maxbytes`). */
  readonly limitBytes: number
  /** Records dropped to make room since start (`evictions`). */
  readonly evictions: number
}

/**
 * `CacheUsage` of one realm of a `ReplicaStore`. `stats()` walks the realms, not the records, so a
 * `stats` request costs the same at any replica size. Evictions are the store's, all realms.
 */
export function replicaCacheUsage(
  store: Pick<ReplicaStore, 'stats' | 'limits'>,
  realm: string,
): () => CacheUsage {
  return () => {
    const stats = store.stats()
    const own = stats.realms[realm]
    return {
      items: own?.entries ?? 0,
      bytes: own?.bytes ?? 0,
      limitBytes: store.limits.maxBytesPerRealm,
      evictions: stats.evictions,
    }
  }
}

/**
 * One endpoint's own counters, for `stats` (memcached's name beside each). Per server, unlike the
 * Prometheus metrics, which servers sharing a registry share. Plain numbers: bumping one on the
 * request path costs an add, and nothing reads them until a client sends `stats`.
 */
export class EndpointCounters {
  /** curr_connections */
  currConnections = 0
  /** total_connections */
  totalConnections = 0
  /** rejected_connections: closed at once because `maxConnections` were open. */
  rejectedConnections = 0
  /** cmd_get: keys looked up by get/gets (memcached counts keys, not commands). */
  cmdGet = 0
  /** cmd_set: storage commands whose data block was read. */
  cmdSet = 0
  /** cmd_flush: every flush_all, refused or not, as memcached counts it. */
  cmdFlush = 0
  /** cmd_touch: touch, and each key of gat/gats. */
  cmdTouch = 0
  getHits = 0
  getMisses = 0
  deleteHits = 0
  deleteMisses = 0
  /** cas_hits, cas_misses, cas_badval: storage commands that checked a cas unique. */
  casHits = 0
  casMisses = 0
  casBadval = 0
  touchHits = 0
  touchMisses = 0
  /** store_too_large */
  storeTooLarge = 0
  /** total_items: values stored through this endpoint (append/prepend included, as in memcached). */
  totalItems = 0
  bytesRead = 0
  bytesWritten = 0

  /** memcached's `stats reset`: everything but what is open now. */
  reset(): void {
    Object.assign(this, new EndpointCounters(), { currConnections: this.currConnections })
  }
}

/** The settings `stats settings` shows, as the server resolved them. */
export interface StatsSettings {
  readonly maxConnections: number
  readonly idleTimeoutMs: number
  readonly maxValueBytes: number
  readonly allowFlushAll: boolean
  readonly socketMode: number
}

export interface EndpointStatsSources {
  readonly counters: EndpointCounters
  readonly settings: StatsSettings
  readonly version: string
  /** ms; `time` and `uptime` follow the injected clock. */
  readonly now: () => number
  /** Where the server listens, read when asked: a port 0 is known only once listening. */
  readonly addresses: () => readonly MemcacheAddress[]
  readonly cacheUsage: (() => CacheUsage) | undefined
  /** `rusage_user`/`rusage_system` in µs. Default `process.cpuUsage`; fixed where replies must repeat. */
  readonly cpuUsage?: () => { user: number; system: number }
}

/** The lists `stats [group]` answers. `reset` is an action, not a list. */
export const STATS_GROUPS = ['general', 'settings', 'items', 'slabs', 'sizes'] as const
export type StatsGroup = (typeof STATS_GROUPS)[number]

export type StatLine = readonly [name: string, value: string]

/** memcached caps `verbosity` at this level. */
const MAX_VERBOSITY = 2

/**
 * memcached's `stats` lists, in its order and under its names (memcached-tool, memcached_exporter
 * and Telegraf read them), with only the fields this endpoint can fill truthfully: no slab, LRU or
 * thread internals. `items`, `slabs` and `sizes` are what a memcached holding no slab class
 * answers, so that memcached-tool's default display works.
 */
export class EndpointStats {
  readonly #sources: EndpointStatsSources
  readonly #startedAt: number
  #evictionsAtReset = 0
  #verbosity = 0

  constructor(sources: EndpointStatsSources) {
    this.#sources = sources
    this.#startedAt = sources.now()
  }

  /** Accepted and shown in `stats settings`; the endpoint never logs requests, at any level. */
  setVerbosity(level: number): void {
    this.#verbosity = Math.min(level, MAX_VERBOSITY)
  }

  reset(): void {
    this.#sources.counters.reset()
    this.#evictionsAtReset = this.#sources.cacheUsage?.().evictions ?? 0
  }

  report(group: StatsGroup): StatLine[] {
    switch (group) {
      case 'general':
        return this.#general()
      case 'settings':
        return this.#settings()
      case 'items':
        return []
      case 'slabs':
        return [
          ['active_slabs', '0'],
          ['total_malloced', '0'],
        ]
      case 'sizes':
        return [['sizes_status', 'disabled']]
    }
  }

  #general(): StatLine[] {
    const { counters: c, settings, version, now, cacheUsage, cpuUsage = process.cpuUsage } = this.#sources
    const nowMs = now()
    const cpu = cpuUsage()
    const usage = cacheUsage?.()
    const lines: Array<[string, number | string]> = [
      ['pid', process.pid],
      ['uptime', Math.floor((nowMs - this.#startedAt) / 1000)],
      ['time', Math.floor(nowMs / 1000)],
      ['version', version],
      ['rusage_user', seconds(cpu.user)],
      ['rusage_system', seconds(cpu.system)],
      ['max_connections', settings.maxConnections],
      ['curr_connections', c.currConnections],
      ['total_connections', c.totalConnections],
      ['rejected_connections', c.rejectedConnections],
      ['cmd_get', c.cmdGet],
      ['cmd_set', c.cmdSet],
      ['cmd_flush', c.cmdFlush],
      ['cmd_touch', c.cmdTouch],
      ['get_hits', c.getHits],
      ['get_misses', c.getMisses],
      ['delete_misses', c.deleteMisses],
      ['delete_hits', c.deleteHits],
      // incr/decr are refused before they look anything up: no hit, no miss.
      ['incr_misses', 0],
      ['incr_hits', 0],
      ['decr_misses', 0],
      ['decr_hits', 0],
      ['cas_misses', c.casMisses],
      ['cas_hits', c.casHits],
      ['cas_badval', c.casBadval],
      ['touch_hits', c.touchHits],
      ['touch_misses', c.touchMisses],
      ['store_too_large', c.storeTooLarge],
      ['bytes_read', c.bytesRead],
      ['bytes_written', c.bytesWritten],
    ]
    if (usage !== undefined) lines.push(['limit_maxbytes', usage.limitBytes])
    // One event loop serves every connection.
    lines.push(['threads', 1])
    if (usage !== undefined) lines.push(['bytes', usage.bytes], ['curr_items', usage.items])
    lines.push(['total_items', c.totalItems])
    if (usage !== undefined) lines.push(['evictions', usage.evictions - this.#evictionsAtReset])
    return lines.map(([name, value]) => [name, String(value)])
  }

  #settings(): StatLine[] {
    const { settings, addresses, cacheUsage } = this.#sources
    const listening = addresses()
    const tcp = listening.find((address) => address.transport === 'tcp')
    const unix = listening.find((address) => address.transport === 'unix')
    const usage = cacheUsage?.()
    const lines: StatLine[] = []
    if (usage !== undefined) lines.push(['maxbytes', String(usage.limitBytes)])
    lines.push(
      ['maxconns', String(settings.maxConnections)],
      ['tcpport', String(tcp?.port ?? 0)],
      ['udpport', '0'],
      ['inter', tcp?.host ?? 'NULL'],
      ['verbosity', String(this.#verbosity)],
      ['evictions', 'on'],
      ['domain_socket', unix?.path ?? 'NULL'],
      // memcached's -a: the socket's permissions, in octal.
      ['umask', settings.socketMode.toString(8)],
      ['cas_enabled', 'yes'],
      ['binding_protocol', 'auto-negotiate'],
      ['item_size_max', String(settings.maxValueBytes)],
      ['flush_enabled', settings.allowFlushAll ? 'yes' : 'no'],
      ['idle_timeout', String(Math.ceil(settings.idleTimeoutMs / 1000))],
    )
    return lines
  }
}

/** memcached prints rusage as seconds with six decimals. */
function seconds(micros: number): string {
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`
}
