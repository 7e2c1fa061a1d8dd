import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import {
  daemonMetrics,
  METRICS_REFERENCE,
  renderMetricsReference,
} from '../../../scripts/metrics-reference.ts'

describe('docs/metrics.md', () => {
  it('is what scripts/metrics-reference.ts generates from a running daemon (rerun it after a metrics change)', async () => {
    const metrics = await daemonMetrics()
    // The document is only as good as what it is read from: every part with metrics was on.
    const names = metrics.map((m) => m.name)
    for (const name of [
      'tlsmesh_memcache_command_duration_seconds',
      'tlsmesh_ticket_key_age_seconds',
      'tlsmesh_mesh_prekey_refused_total',
      'tlsmesh_realm_replica_budget_bytes',
    ]) {
      expect(names).toContain(name)
    }
    expect(metrics.find((m) => m.name === 'tlsmesh_realm_replica_budget_bytes')?.labels).toEqual(['realm'])
    const current = await readFile(METRICS_REFERENCE, 'utf8')
    expect(
      current,
      'docs/metrics.md is out of date: run node --import tsx scripts/metrics-reference.ts',
    ).toBe(renderMetricsReference(metrics))
  })

  it('names every metric by the house rule: tlsmesh_<area>_..., counters in _total, with help', async () => {
    for (const m of await daemonMetrics()) {
      expect(m.name).toMatch(/^tlsmesh_[a-z]+_[a-z0-9_]+$/)
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/)
      expect(m.help.length).toBeGreaterThan(10)
    }
  })
})
