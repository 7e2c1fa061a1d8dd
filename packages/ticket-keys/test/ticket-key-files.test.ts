import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  HAPROXY_KEY_FILE,
  haproxyTicketKeyLine,
  InvalidTicketKeyOptionError,
  nginxSlotNames,
  nginxTicketKeyDirectives,
  TicketKey,
  writeTicketKeyFiles,
} from '../src/index.ts'

const HOUR = 3_600_000

function key(period: number): TicketKey {
  return new TicketKey({
    period,
    material: randomBytes(80),
    encryptFrom: period * HOUR,
    encryptUntil: (period + 1) * HOUR,
    decryptUntil: (period + 13) * HOUR,
    created: period * HOUR - 1,
    origin: 'test',
  })
}

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tlsmesh-ticket-keys-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

const read = (name: string): Buffer => readFileSync(join(dir, name))
const mode = (name: string): number => statSync(join(dir, name)).mode & 0o777

describe('nginx files', () => {
  it('writes one raw 80-byte file per slot, the current key first, mode 0600', async () => {
    const [current, next, previous1, previous2] = [key(10), key(11), key(9), key(8)]
    const result = await writeTicketKeyFiles(dir, [current!, next!, previous1!, previous2!], {
      format: 'nginx',
      slots: 6,
    })
    expect(result.files.map((f) => f.slice(dir.length + 1))).toEqual([
      'current.key',
      'next.key',
      'previous-1.key',
      'previous-2.key',
      'previous-3.key',
      'previous-4.key',
    ])
    expect(read('current.key').equals(current!.material)).toBe(true)
    expect(read('next.key').equals(next!.material)).toBe(true)
    expect(read('previous-1.key').equals(previous1!.material)).toBe(true)
    expect(read('previous-2.key').equals(previous2!.material)).toBe(true)
    // Spare slots repeat the current key: nginx needs every configured file to exist.
    expect(read('previous-3.key').equals(current!.material)).toBe(true)
    for (const name of nginxSlotNames(6)) {
      expect(read(name).byteLength).toBe(80)
      expect(mode(name)).toBe(0o600)
    }
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('puts the current key in next.key until the next key is held', async () => {
    const current = key(10)
    await writeTicketKeyFiles(dir, [current, key(9)], { format: 'nginx', slots: 3 })
    expect(read('next.key').equals(current.material)).toBe(true)
    expect(read('previous-1.key').equals(read('current.key'))).toBe(false)
  })

  it('replaces files atomically: a reader sees the old or the new key, never a mix', async () => {
    const first = key(10)
    await writeTicketKeyFiles(dir, [first], { format: 'nginx', slots: 2 })
    const inodeBefore = statSync(join(dir, 'current.key')).ino
    const second = key(11)
    await writeTicketKeyFiles(dir, [second], { format: 'nginx', slots: 2 })
    // A rename puts a new inode in place; a reader holding the old file keeps reading whole old bytes.
    expect(statSync(join(dir, 'current.key')).ino).not.toBe(inodeBefore)
    expect(read('current.key').equals(second.material)).toBe(true)
  })

  it('removes stale slots, the other format and leftover temp files, and nothing else', async () => {
    await writeTicketKeyFiles(dir, [key(10), key(11), key(9), key(8)], { format: 'nginx', slots: 5 })
    writeFileSync(join(dir, HAPROXY_KEY_FILE), 'x')
    writeFileSync(join(dir, '.current.key.0123456789abcdef.tmp'), 'x')
    writeFileSync(join(dir, 'nginx.conf'), 'keep me')
    const result = await writeTicketKeyFiles(dir, [key(12), key(13)], { format: 'nginx', slots: 3 })
    expect(readdirSync(dir).sort()).toEqual(['current.key', 'next.key', 'nginx.conf', 'previous-1.key'])
    expect(result.removed.map((f) => f.slice(dir.length + 1)).sort()).toEqual([
      '.current.key.0123456789abcdef.tmp',
      'previous-2.key',
      'previous-3.key',
      HAPROXY_KEY_FILE,
    ])
  })

  it('drops the keys that do not fit, the last ones first', async () => {
    const keys = [key(10), key(11), key(9), key(8), key(7)]
    const result = await writeTicketKeyFiles(dir, keys, { format: 'nginx', slots: 3 })
    expect(result.dropped).toBe(2)
    expect(read('previous-1.key').equals(keys[2]!.material)).toBe(true)
  })

  it('names every slot in the configuration lines', () => {
    expect(nginxTicketKeyDirectives('/run/tlsmesh/www', 3)).toBe(
      [
        'ssl_session_ticket_key /run/tlsmesh/www/current.key;',
        'ssl_session_ticket_key /run/tlsmesh/www/next.key;',
        'ssl_session_ticket_key /run/tlsmesh/www/previous-1.key;',
      ].join('\n'),
    )
  })

  it('refuses no keys and too few slots', async () => {
    await expect(writeTicketKeyFiles(dir, [], { format: 'nginx', slots: 3 })).rejects.toThrow(
      InvalidTicketKeyOptionError,
    )
    await expect(writeTicketKeyFiles(dir, [key(1)], { format: 'nginx', slots: 1 })).rejects.toThrow('slots')
  })
})

describe('HAProxy file', () => {
  const lines = (): string[] => read(HAPROXY_KEY_FILE).toString('utf8').trimEnd().split('\n')

  it('lists keys oldest first, ending with the current key (penultimate: encrypts) and the next one', async () => {
    const [current, next, previous1, previous2] = [key(10), key(11), key(9), key(8)]
    await writeTicketKeyFiles(dir, [current!, next!, previous1!, previous2!], { format: 'haproxy' })
    expect(lines()).toEqual([previous2!, previous1!, current!, next!].map(haproxyTicketKeyLine))
    expect(mode(HAPROXY_KEY_FILE)).toBe(0o600)
  })

  it("keeps the previous period's key in HAProxy's last 3 lines when keys were superseded in a race", async () => {
    const [current, next, previous1, previous2] = [key(10), key(11), key(9), key(8)]
    // As the schedule lists them: superseded keys (here a lost next and a lost current) come last.
    const lostNext = key(11)
    const lostCurrent = key(10)
    await writeTicketKeyFiles(dir, [current!, next!, previous1!, previous2!, lostNext, lostCurrent], {
      format: 'haproxy',
    })
    expect(lines()).toEqual(
      [lostNext, lostCurrent, previous2!, previous1!, current!, next!].map(haproxyTicketKeyLine),
    )
  })

  it('repeats the current key where the next is missing and pads to the 3 lines HAProxy requires', async () => {
    const current = key(10)
    await writeTicketKeyFiles(dir, [current], { format: 'haproxy' })
    expect(lines()).toEqual(Array(3).fill(haproxyTicketKeyLine(current)))
    const next = key(11)
    await writeTicketKeyFiles(dir, [current, next], { format: 'haproxy' })
    expect(lines()).toEqual([current, current, next].map(haproxyTicketKeyLine))
  })
})
