// The README's main job: the demo fleet, with and without the mesh, as a user runs it.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

interface DemoRow {
  tlsVersion: 'TLSv1.2' | 'TLSv1.3'
  fleet: string
  connections: number
  offered: number
  resumed: number
  resumptionRate: number
  errors: number
}

describe('pnpm demo --json', () => {
  it('resumes nearly every session through the balancer with the mesh, about 1/3 without (TLS 1.2 and 1.3)', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/demo.ts', '--connections', '160', '--loops', '8', '--json'],
      { timeout: 150_000 },
    )
    const report = JSON.parse(stdout) as { rows: DemoRow[] }
    expect(report.rows.map((r) => [r.tlsVersion, r.fleet.includes('tlsmesh')])).toEqual([
      ['TLSv1.2', false],
      ['TLSv1.2', true],
      ['TLSv1.3', false],
      ['TLSv1.3', true],
    ])
    for (const row of report.rows) {
      expect(row.errors).toBe(0)
      expect(row.connections).toBe(160)
      expect(row.offered).toBe(152)
      // Strict round robin over 3 servers with 8 interleaved clients: without the mesh, the next
      // connection lands on the server that made the session about a third of the time.
      // The >= 99% target is measured by `pnpm bench` on a quiet machine; here a loaded CI machine can
      // let a client's next connection outrun the gossip of its session a few times.
      if (row.fleet.includes('tlsmesh')) expect(row.resumptionRate).toBeGreaterThanOrEqual(0.95)
      else expect(row.resumptionRate).toBeLessThan(0.6)
    }
  }, 180_000)
})
