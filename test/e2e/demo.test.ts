// The README's main job: the demo fleet, with and without the mesh, as a user runs it.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

interface DemoRow {
  fleet: string
  connections: number
  offered: number
  resumed: number
  resumptionRate: number
  errors: number
}

describe('pnpm demo --json', () => {
  it('resumes nearly every session through the balancer with the mesh, about 1/3 without', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/demo.ts', '--connections', '160', '--loops', '8', '--json'],
      { timeout: 90_000 },
    )
    const report = JSON.parse(stdout) as { rows: DemoRow[] }
    const [local, mesh] = report.rows as [DemoRow, DemoRow]
    expect(local.fleet).toContain('local caches')
    expect(mesh.fleet).toContain('tlsmesh')
    for (const row of [local, mesh]) {
      expect(row.errors).toBe(0)
      expect(row.connections).toBe(160)
      expect(row.offered).toBe(152)
    }
    // Strict round robin over 3 servers with 8 interleaved clients: the next connection lands on the
    // server that made the session about a third of the time.
    expect(local.resumptionRate).toBeLessThan(0.6)
    expect(mesh.resumptionRate).toBeGreaterThanOrEqual(0.97)
  }, 120_000)
})
