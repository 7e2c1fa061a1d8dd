import { pino } from 'pino'
import { DEFAULT_REPLICA_MAX_BYTES, DEFAULT_REPLICA_MAX_ENTRIES } from '../src/constants.ts'
import type { DaemonOptions } from '../src/daemon-options.ts'

/** Daemon options for a test: no mesh key, a free port on loopback for both the mesh and admin. */
export function devOptions(overrides: Partial<DaemonOptions> = {}): DaemonOptions {
  return {
    insecureDev: true,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    seeds: [],
    realms: ['default'],
    mdns: false,
    transportThread: false,
    admin: { host: '127.0.0.1', port: 0 },
    replica: { maxBytesPerRealm: DEFAULT_REPLICA_MAX_BYTES, maxEntriesPerRealm: DEFAULT_REPLICA_MAX_ENTRIES },
    logLevel: 'silent',
    logFormat: 'json',
    ...overrides,
  }
}

export const silentLogger = pino({ level: 'silent' })
