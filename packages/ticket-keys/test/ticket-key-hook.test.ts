import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createReplicaStore, LocalSessionCache, type Logger } from '@tlsmesh/store'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { attachTicketKeyFiles, createTicketKeySchedule, runHook } from '../src/index.ts'
import { Clock, fixedJitter, HOUR, KEY_REALM, MINUTE, REALM, T0 } from './schedule-fixtures.ts'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tlsmesh-ticket-hook-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('runHook', () => {
  it('runs the command through /bin/sh with the given environment and reports its exit code', async () => {
    const result = await runHook('echo "$TLSMESH_X" > "$OUT"; echo oops >&2; exit 3', {
      env: { TLSMESH_X: 'hello', OUT: join(dir, 'out') },
    })
    expect(result).toMatchObject({ code: 0 + 3, signal: null, timedOut: false, stderr: 'oops\n' })
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('hello\n')
  })

  it('kills a hook that overruns its time, with what it started', async () => {
    const started = performance.now()
    const result = await runHook('sleep 30 & sleep 30', { timeoutMs: 200 })
    expect(result).toMatchObject({ code: null, signal: 'SIGTERM', timedOut: true })
    expect(performance.now() - started).toBeLessThan(3000)
  })

  it('does not wait for a background child that keeps stderr open', async () => {
    const started = performance.now()
    const result = await runHook('sleep 5 >/dev/null & exit 0', { timeoutMs: 10_000 })
    expect(result.code).toBe(0)
    expect(performance.now() - started).toBeLessThan(2000)
  })
})

describe('attachTicketKeyFiles', () => {
  it('writes the files and runs the hook at start and after each change, one at a time', async () => {
    const clock = new Clock(T0 + 50 * MINUTE)
    const cache = new LocalSessionCache({
      store: createReplicaStore({ realms: [KEY_REALM] }),
      now: clock.read,
    })
    const schedule = createTicketKeySchedule(
      { realm: REALM, joinGraceMs: 0 },
      { cache, now: clock.read, random: fixedJitter(0) },
    )
    await schedule.start()
    const log: Array<[object, string | undefined]> = []
    const record = (obj: object, msg?: string) => log.push([obj, msg])
    const logger: Logger = { debug: record, info: record, warn: record, error: record, child: () => logger }
    const runs = join(dir, 'runs')
    const files = attachTicketKeyFiles(
      schedule,
      // The hook sees the current key's name and checks that no other run overlaps it.
      {
        dir: join(dir, 'keys'),
        format: 'nginx',
        hook: `test ! -e "${dir}/lock" && touch "${dir}/lock" && sleep 0.2 && echo "$TLSMESH_TICKET_KEY_NAME" >> "${runs}"; s=$?; rm -f "${dir}/lock"; exit $s`,
      },
      { logger },
    )
    await files.sync()
    expect(files.stats).toMatchObject({ writes: 1, hookRuns: 1, hookFailures: 0 })
    expect(readFileSync(join(dir, 'keys', 'current.key')).equals(schedule.current()!.material)).toBe(true)

    // Two rotations while the hook of the first may still run: the runs never overlap.
    clock.set(T0 + HOUR)
    schedule.refresh()
    clock.set(T0 + 2 * HOUR)
    schedule.refresh()
    await files.sync()
    await files.detach()
    const names = readFileSync(runs, 'utf8').trim().split('\n')
    expect(names.at(-1)).toBe(schedule.current()!.nameHex)
    expect(files.stats.hookFailures).toBe(0)
    expect(files.stats.writes).toBe(names.length)
    // Logs name keys by their public name only.
    const text = JSON.stringify(log)
    for (const key of schedule.keys()) {
      expect(text).not.toContain(Buffer.from(key.material.subarray(16, 32)).toString('hex'))
    }
    await schedule.stop()
  })

  it('says why a write failed and tries again until it succeeds', async () => {
    const clock = new Clock(T0 + 50 * MINUTE)
    const cache = new LocalSessionCache({
      store: createReplicaStore({ realms: [KEY_REALM] }),
      now: clock.read,
    })
    const schedule = createTicketKeySchedule(
      { realm: REALM, joinGraceMs: 0 },
      { cache, now: clock.read, random: fixedJitter(0) },
    )
    await schedule.start()
    // A plain file where the directory should be: every write fails (ENOTDIR/EEXIST), root or not.
    const keys = join(dir, 'keys')
    writeFileSync(keys, 'not a directory')
    const files = attachTicketKeyFiles(
      schedule,
      { dir: keys, format: 'nginx', retryMs: 50 },
      { now: () => 1234 },
    )
    await files.sync()
    expect(files.stats).toMatchObject({ writes: 0, current: null, lastWriteAt: null })
    expect(files.stats.writeErrors).toBeGreaterThan(0)
    expect(files.stats.lastWriteError).toMatch(/ENOTDIR|EEXIST/)

    // No key change comes; the retry alone writes the files once the directory can be made.
    rmSync(keys)
    const deadline = Date.now() + 5000
    while (files.stats.writes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(files.stats).toMatchObject({
      writes: 1,
      current: schedule.current()!.nameHex,
      lastWriteAt: 1234,
      lastWriteError: null,
    })
    expect(readFileSync(join(keys, 'current.key')).equals(schedule.current()!.material)).toBe(true)
    expect(files.slots).toBe(schedule.maxKeys)
    await files.detach()
    await schedule.stop()
  })
})
