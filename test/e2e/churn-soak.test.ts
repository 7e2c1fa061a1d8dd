import { describe, expect, it } from 'vitest'
import { runChurnSoak } from '../../scripts/soak/churn-soak-run.ts'

// The short version of scripts/soak/churn-soak.ts: three mesh node processes publishing to each
// other while a churner process connects to them and disconnects 300 times, one cycle in 50 carrying
// a 1 MiB echo. With the stock @libp2p/pnet (SOAK_PROTECTOR=pnet) this fails: the first 1 MiB write
// grows xsalsa20's WebAssembly memory, every cipher's next update then grows it again, it reaches its
// 64 MiB limit within seconds and connections die (records go missing) or the process does.

const protector = process.env.SOAK_PROTECTOR === 'pnet' ? 'pnet' : 'ours'

describe('churn soak, short', () => {
  it('300 connect/disconnect cycles while publishing: nodes stay up, miss nothing, memory stays flat', async () => {
    const result = await runChurnSoak({
      nodes: 3,
      cycles: 300,
      // 300 cycles over ~25 s, most of them after the warm-up; a slow machine is cut off at 35 s
      cycleRate: 12,
      seconds: 35,
      bigEvery: 50,
      publishRate: 50,
      sampleMs: 1000,
      warmupSeconds: 8,
      // a replica at steady size well within the warm-up: records live 5 s, pruned every second
      recordTtlMs: 5000,
      pruneIntervalMs: 1000,
      // records live shorter than an anti-entropy round: what gossip did not deliver never comes
      settleSeconds: 3,
      maxHeapGrowthMiB: 6,
      maxExternalGrowthMiB: 16,
      // RSS keeps the allocator's high-water mark from the 1 MiB echoes for longer than this run;
      // the minutes-long soak is the one that judges RSS
      maxRssGrowthMiB: 96,
      protector,
    })
    // what a failure shows: each node's fate and growth, the churn, and the soak's own verdict
    const summary = JSON.stringify({
      churn: result.churn,
      nodes: result.nodes.map(({ index, exited, missing, memory }) => ({
        index,
        exited,
        missing,
        heapGrowthMiB: memory.heapGrowthMiB,
        externalGrowthMiB: memory.externalGrowthMiB,
        rssGrowthMiB: memory.rssGrowthMiB,
      })),
      failures: result.failures,
    })
    for (const node of result.nodes) {
      expect(node.exited, `node ${node.index} exited: ${summary}`).toBeNull()
      expect(node.missing, `records node ${node.index} missed: ${summary}`).toBe(0)
      expect(node.memory.heapGrowthMiB, `node ${node.index} heap growth: ${summary}`).toBeLessThan(6)
      expect(node.memory.externalGrowthMiB, `node ${node.index} external growth: ${summary}`).toBeLessThan(16)
    }
    expect(result.churn.failures, summary).toBe(0)
    expect(result.churn.cycles, summary).toBeGreaterThanOrEqual(150)
    expect(result.failures, summary).toEqual([])
  }, 90_000)
})
