/**
 * The one list of the daemon's settings: each has a flag, an environment variable and a config file
 * key, and this table drives the flag parser, the environment reader, the file reader, `--help`,
 * `--print-config` and the README's table, so a setting cannot exist in one place and not another.
 */
export type FieldKind = 'string' | 'list' | 'boolean'

export interface FieldSpec {
  /** Without the leading `--`. Repeatable for lists. */
  flag: string
  env: string
  /** Key in the YAML config file (lists take a YAML sequence, or one string). */
  key: string
  kind: FieldKind
  /** The flag's argument in `--help`. */
  arg?: string
  help: string
  /** SIGHUP applies a change of this setting without a restart. */
  reloadable?: boolean
  /** What holds when the setting is absent and no value stands for it (`--help`, `--print-config`). */
  unset?: string
  /** The flag (without `--`) this setting only applies with: its default is shown commented out. */
  needs?: string
}

const FIELDS = {
  meshKeyFile: {
    flag: 'mesh-key',
    env: 'TLSMESH_MESH_KEY_FILE',
    key: 'mesh-key-file',
    kind: 'string',
    arg: 'FILE',
    help: 'mesh (private network) key file, from "tlsmesh keygen --out FILE"',
    unset: 'required, unless --insecure-dev',
  },
  insecureDev: {
    flag: 'insecure-dev',
    env: 'TLSMESH_INSECURE_DEV',
    key: 'insecure-dev',
    kind: 'boolean',
    help: 'run without a mesh key: anyone who reaches the port joins (development only)',
  },
  identityFile: {
    flag: 'identity',
    env: 'TLSMESH_IDENTITY_FILE',
    key: 'identity-file',
    kind: 'string',
    arg: 'FILE',
    help: 'persistent peer identity; created (mode 0600) if missing',
    unset: 'a new identity, so a new peer id, each run',
  },
  listen: {
    flag: 'listen',
    env: 'TLSMESH_LISTEN',
    key: 'listen',
    kind: 'list',
    arg: 'MULTIADDR',
    help: 'address to listen on, repeatable',
  },
  announce: {
    flag: 'announce',
    env: 'TLSMESH_ANNOUNCE',
    key: 'announce',
    kind: 'list',
    arg: 'MULTIADDR',
    help: 'address to advertise to peers and over mDNS instead of every local one, repeatable',
    unset: 'the listen addresses',
  },
  seeds: {
    flag: 'seed',
    env: 'TLSMESH_SEEDS',
    key: 'seeds',
    kind: 'list',
    arg: 'ADDR',
    help: 'a node to join through: HOST:PORT, /dns4/NAME/tcp/PORT or a multiaddr (/p2p/<peer id> optional), repeatable (SIGHUP dials new ones)',
    reloadable: true,
  },
  realms: {
    flag: 'realm',
    env: 'TLSMESH_REALMS',
    key: 'realms',
    kind: 'list',
    arg: 'NAME',
    help: 'realm to serve, repeatable',
  },
  allowPeers: {
    flag: 'allow-peer',
    env: 'TLSMESH_ALLOW_PEERS',
    key: 'allow-peers',
    kind: 'list',
    arg: 'PEER_ID',
    help: 'only these peers may connect and publish, repeatable',
    reloadable: true,
    unset: 'any holder of the mesh key',
  },
  meshName: {
    flag: 'mesh-name',
    env: 'TLSMESH_MESH_NAME',
    key: 'mesh-name',
    kind: 'string',
    arg: 'NAME',
    help: 'separates fleets sharing a key and a LAN',
  },
  mdns: {
    flag: 'mdns',
    env: 'TLSMESH_MDNS',
    key: 'mdns',
    kind: 'boolean',
    help: 'find peers on the LAN by multicast DNS; --no-mdns turns it off',
  },
  transportThread: {
    flag: 'transport-thread',
    env: 'TLSMESH_TRANSPORT_THREAD',
    key: 'transport-thread',
    kind: 'boolean',
    help: "run the mesh's transport (libp2p, its crypto and codecs) on a thread of its own, so that memcached gets never wait for it",
  },
  admin: {
    flag: 'admin',
    env: 'TLSMESH_ADMIN',
    key: 'admin',
    kind: 'string',
    arg: 'HOST:PORT',
    help: 'admin HTTP on loopback: /healthz /readyz /status /peers /metrics',
  },
  memcache: {
    flag: 'memcache',
    env: 'TLSMESH_MEMCACHE',
    key: 'memcache',
    kind: 'string',
    arg: 'HOST:PORT',
    help: 'serve the memcached protocol (text and binary) on loopback, for H2O, Apache...',
    unset: 'off',
  },
  memcacheSocket: {
    flag: 'memcache-socket',
    env: 'TLSMESH_MEMCACHE_SOCKET',
    key: 'memcache-socket',
    kind: 'string',
    arg: 'PATH',
    help: 'serve it on a unix socket (mode 0660): recommended, a loopback port is open to every local process',
    unset: 'off',
  },
  memcacheRealm: {
    flag: 'memcache-realm',
    env: 'TLSMESH_MEMCACHE_REALM',
    key: 'memcache-realm',
    kind: 'string',
    arg: 'NAME',
    help: 'realm the memcached endpoint serves',
    unset: 'the first realm',
    needs: 'memcache',
  },
  memcacheAllowUsers: {
    flag: 'memcache-allow-user',
    env: 'TLSMESH_MEMCACHE_ALLOW_USERS',
    key: 'memcache-allow-users',
    kind: 'list',
    arg: 'NAME',
    help: 'only processes of this local user may use the --memcache port, repeatable',
    unset: 'any local user',
    needs: 'memcache',
  },
  replicaMaxBytes: {
    flag: 'replica-max-bytes',
    env: 'TLSMESH_REPLICA_MAX_BYTES',
    key: 'replica-max-bytes',
    kind: 'string',
    arg: 'SIZE',
    help: 'replica budget per realm, e.g. 64MiB; the least recently used records go first',
  },
  replicaMaxEntries: {
    flag: 'replica-max-entries',
    env: 'TLSMESH_REPLICA_MAX_ENTRIES',
    key: 'replica-max-entries',
    kind: 'string',
    arg: 'N',
    help: 'records per realm at most',
  },
  ticketKeys: {
    flag: 'ticket-keys',
    env: 'TLSMESH_TICKET_KEYS',
    key: 'ticket-keys',
    kind: 'list',
    arg: 'REALM',
    help: 'generate, share and rotate TLS session ticket keys for this realm (one of --realm), repeatable',
  },
  ticketKeyProposers: {
    flag: 'ticket-key-proposer',
    env: 'TLSMESH_TICKET_KEY_PROPOSERS',
    key: 'ticket-key-proposers',
    kind: 'list',
    arg: 'PEER_ID',
    help: 'only this peer may propose ticket keys (repeatable; the same list on every node); others only take keys',
    unset: 'any member',
    needs: 'ticket-keys',
  },
  ticketKeyRotation: {
    flag: 'ticket-key-rotation',
    env: 'TLSMESH_TICKET_KEY_ROTATION',
    key: 'ticket-key-rotation',
    kind: 'string',
    arg: 'DURATION',
    help: 'how long each ticket key encrypts, e.g. 1h, 30m (the same on every node of a realm)',
    needs: 'ticket-keys',
  },
  ticketKeyLifetime: {
    flag: 'ticket-key-lifetime',
    env: 'TLSMESH_TICKET_KEY_LIFETIME',
    key: 'ticket-key-lifetime',
    kind: 'string',
    arg: 'DURATION',
    help: 'how long a ticket key still decrypts after its rotation, e.g. 12h (the same on every node)',
    needs: 'ticket-keys',
  },
  ticketKeysDir: {
    flag: 'ticket-keys-dir',
    env: 'TLSMESH_TICKET_KEYS_DIR',
    key: 'ticket-keys-dir',
    kind: 'string',
    arg: 'DIR',
    help: 'write the keys for nginx or HAProxy into DIR/<realm>/ (absolute; put it on tmpfs, mode 0700)',
    unset: 'off, the keys stay in memory and the mesh',
    needs: 'ticket-keys',
  },
  ticketKeysFormat: {
    flag: 'ticket-keys-format',
    env: 'TLSMESH_TICKET_KEYS_FORMAT',
    key: 'ticket-keys-format',
    kind: 'string',
    arg: 'FORMAT',
    help: 'nginx (a file per key) or haproxy (one file, a key per line)',
    needs: 'ticket-keys-dir',
  },
  onTicketKeys: {
    flag: 'on-ticket-keys',
    env: 'TLSMESH_ON_TICKET_KEYS',
    key: 'on-ticket-keys',
    kind: 'string',
    arg: 'COMMAND',
    help: 'run through /bin/sh after each change of the key files, e.g. "systemctl reload nginx"',
    unset: 'none',
    needs: 'ticket-keys-dir',
  },
  logLevel: {
    flag: 'log-level',
    env: 'TLSMESH_LOG_LEVEL',
    key: 'log-level',
    kind: 'string',
    arg: 'LEVEL',
    help: 'fatal, error, warn, info, debug, trace or silent (SIGHUP applies a change)',
    reloadable: true,
  },
  logFormat: {
    flag: 'log-format',
    env: 'TLSMESH_LOG_FORMAT',
    key: 'log-format',
    kind: 'string',
    arg: 'FORMAT',
    help: 'auto (readable on a terminal, JSON otherwise), json or pretty',
  },
} as const satisfies Record<string, FieldSpec>

export type FieldName = keyof typeof FIELDS
export const CONFIG_FIELDS: Readonly<Record<FieldName, FieldSpec>> = FIELDS
export const FIELD_NAMES = Object.keys(CONFIG_FIELDS) as FieldName[]

/** The value of a field as one source gave it, before it is checked. */
export type RawValue = string | string[] | boolean
export type RawConfig = Partial<Record<FieldName, RawValue>>

/** Where a setting's value came from, for error messages and `--print-config`. */
export type Origin = 'flag' | 'env' | 'file' | 'default'
