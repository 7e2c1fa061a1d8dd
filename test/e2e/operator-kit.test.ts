// The operator's kit against a real tlsmeshd: the alert rules pass `promtool check rules` and
// `promtool test rules`, and every metric the rules, their tests and the Grafana dashboard name is
// one the daemon's /metrics exports, so that a renamed metric fails here rather than in production;
// and every dashboard query runs in a real Prometheus scraping the daemon and shows data.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, startProcess, waitUntil } from './lib/managed-process.ts'
import { memcachedCommand } from './lib/memcached-text.ts'
import { createMeshKey, startTlsmeshd, type Tlsmeshd } from './lib/tlsmeshd-fleet.ts'

const run = promisify(execFile)
const deploy = fileURLToPath(new URL('../../deploy/', import.meta.url))
const RULES = join(deploy, 'prometheus-alerts.yml')
const RULE_TESTS = join(deploy, 'prometheus-alerts.test.yml')
const DASHBOARD = join(deploy, 'grafana-dashboard.json')
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((path) => existsSync(path))
const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((path) => existsSync(path))
const isRoot = process.getuid?.() === 0

/** Series Prometheus makes itself, not the daemon. */
const PROMETHEUS_SERIES = new Set(['up'])

/**
 * Counters a healthy node alone, with no peer and nothing refused, has no series of yet: the dashboard
 * panels on them may be empty here. Every other panel must show data.
 */
const QUIET_ON_A_LONE_NODE = [
  'tlsmesh_mesh_records_received_total',
  'tlsmesh_mesh_messages_refused_total',
  'tlsmesh_mesh_records_refused_total',
  'tlsmesh_memcache_errors_total',
  'tlsmesh_mesh_clock_skew_suspected_total',
]

/** What the issue asks the rules to cover, by alert name. */
const REQUIRED_ALERTS = [
  'TlsmeshPeersBelowExpected',
  'TlsmeshNotReady',
  'TlsmeshPropagationSlow',
  'TlsmeshMessagesRejected',
  'TlsmeshClockSkew',
  'TlsmeshTicketKeyTooOld',
  'TlsmeshReplicaNearBudget',
]

/** Every series name the exposition can carry: histograms and summaries as their sample names. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>()
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string]
    names.add(name)
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s)
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s)
  }
  return names
}

/** The tlsmesh_*, process_* and nodejs_* names a file mentions (expressions, series, annotations). */
function namesIn(text: string): string[] {
  return [...new Set(text.match(/\b(?:tlsmesh|process|nodejs)_[a-z0-9_]*[a-z0-9]\b/g) ?? [])].sort()
}

describe.skipIf(PROMTOOL === undefined && !isRoot)(
  'deploy/: alert rules and dashboard against a live tlsmeshd',
  () => {
    let dir: string
    let daemon: Tlsmeshd
    let exported: Set<string>

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tlsmesh-operator-kit-'))
      const meshKeyFile = join(dir, 'mesh.key')
      await createMeshKey(meshKeyFile)
      // Every part with metrics on: the memcached endpoint and ticket keys. A 60 s rotation keeps the
      // first key's proposal jitter (a quarter of the 15 s distributed ahead) within seconds of the
      // 10 s join grace; at the default 1 h it is up to a minute.
      daemon = await startTlsmeshd({
        name: 'tlsmeshd-kit',
        meshKeyFile,
        realm: 'www',
        memcacheTcp: true,
        extraArgs: ['--ticket-keys', 'www', '--ticket-key-rotation', '60s', '--log-level', 'warn'],
      })
      const response = await fetch(`${daemon.adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
      expect(response.status).toBe(200)
      exported = exportedNames(await response.text())
    })
    afterAll(async () => {
      await daemon?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('the daemon exports the standard process metrics and the per-realm and memcached ones', () => {
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_heap_size_used_bytes',
        'tlsmesh_realm_replica_budget_bytes',
        'tlsmesh_memcache_command_duration_seconds_bucket',
      ]) {
        expect(exported, name).toContain(name)
      }
      expect([...exported].filter((name) => name.startsWith('tlsmesh_process_'))).toEqual([])
    })

    it('every metric the alert rules and their tests name is one the daemon exports', async () => {
      const rules = await readFile(RULES, 'utf8')
      const tests = await readFile(RULE_TESTS, 'utf8')
      for (const alert of REQUIRED_ALERTS) expect(rules).toContain(`- alert: ${alert}\n`)
      const named = namesIn(rules + tests)
      expect(named.length).toBeGreaterThan(10)
      expect(named.filter((name) => !exported.has(name))).toEqual([])
      // The input series of the rule tests: only names Prometheus or the daemon makes.
      const series = [...tests.matchAll(/series: '([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!)
      expect(series.filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name))).toEqual([])
    })

    it('every metric the Grafana dashboard queries is one the daemon exports', async () => {
      const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>
      }
      const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr))
      expect(exprs.length).toBeGreaterThan(15)
      const named = namesIn(exprs.join('\n'))
      expect(named.filter((name) => !exported.has(name))).toEqual([])
      for (const panel of dashboard.panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0)
    })

    it.skipIf(PROMETHEUS === undefined)(
      'every dashboard query runs in a real Prometheus scraping the daemon, and the panels show data',
      async () => {
        const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
          panels: Array<{ title: string; targets: Array<{ expr: string }> }>
        }
        // Traffic, so that the memcached panels have series: a miss, a set, a hit.
        await memcachedCommand(
          daemon.memcachePort!,
          'get nothing\r\nset k 0 60 1\r\nv\r\nget k\r\n',
          /VALUE[\s\S]*END\r\n$/,
        )
        const prometheus = await startPrometheus(dir, new URL(daemon.adminUrl).host)
        try {
          // Grafana's variables as the dashboard's own defaults would fill them.
          const concrete = (expr: string) =>
            expr
              .replaceAll('$__rate_interval', '15s')
              .replaceAll('$instance', '.*')
              .replaceAll('$job', 'tlsmesh')
          // rate() needs two scrapes inside its window; a lone node proposes its first ticket key
          // after its join grace (10 s) and a jitter (up to 3.75 s here).
          await waitUntil(
            'two scrapes and a ticket key',
            async () =>
              (await prometheus.query('count_over_time(up[15s]) >= 2')).length > 0 &&
              (await prometheus.query('tlsmesh_ticket_key_age_seconds')).length > 0
                ? true
                : undefined,
            { timeoutMs: 40_000, intervalMs: 500 },
          )
          const empty: string[] = []
          for (const panel of dashboard.panels) {
            for (const target of panel.targets) {
              const result = await prometheus.query(concrete(target.expr))
              const quiet = QUIET_ON_A_LONE_NODE.some((name) => target.expr.includes(name))
              if (result.length === 0 && !quiet) empty.push(`${panel.title}: ${target.expr}`)
            }
          }
          expect(empty).toEqual([])
        } finally {
          await prometheus.stop()
        }
      },
      90_000,
    )

    it('promtool check rules accepts the rules', async () => {
      expect(
        PROMTOOL,
        'promtool not installed: run scripts/setup.sh (Debian package prometheus)',
      ).toBeDefined()
      const { stdout } = await run(PROMTOOL!, ['check', 'rules', RULES], { timeout: 30_000 })
      expect(stdout).toMatch(/SUCCESS: \d+ rules found/)
    })

    it('promtool test rules: each alert fires when it should and stays quiet otherwise', async () => {
      expect(
        PROMTOOL,
        'promtool not installed: run scripts/setup.sh (Debian package prometheus)',
      ).toBeDefined()
      const { stdout } = await run(PROMTOOL!, ['test', 'rules', RULE_TESTS], { timeout: 30_000, cwd: deploy })
      expect(stdout).toContain('SUCCESS')
      const tests = await readFile(RULE_TESTS, 'utf8')
      for (const alert of REQUIRED_ALERTS) expect(tests).toContain(`alertname: ${alert}\n`)
    })
  },
)

/** A Prometheus server scraping `target` every second, with its HTTP API on a free port. */
async function startPrometheus(dir: string, target: string) {
  const port = await freePort()
  const config = join(dir, 'prometheus.yml')
  await writeFile(
    config,
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: tlsmesh\n    static_configs: [{ targets: ['${target}'] }]\n`,
  )
  const server = startProcess('prometheus', PROMETHEUS!, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ])
  const query = async (expr: string): Promise<unknown[]> => {
    const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`
    const body = (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as {
      status: string
      error?: string
      data?: { result: unknown[] }
    }
    if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`)
    return body.data!.result
  }
  await waitUntil(
    'Prometheus to answer',
    () =>
      query('up').then(
        () => true,
        () => undefined,
      ),
    {
      timeoutMs: 20_000,
      intervalMs: 200,
    },
  )
  return { query, stop: () => server.stop() }
}
