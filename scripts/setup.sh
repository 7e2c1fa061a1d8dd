#!/usr/bin/env bash
# Installs what tlsmesh needs on a Debian 12 machine with Node 20: Debian packages, pnpm 10 and the
# workspace's npm packages. Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "tlsmesh needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Debian packages: openssl (certificates, s_client in tests), iproute2 (network namespaces in tests),
# memcached (the central-cache baseline in benchmarks and a second opinion in tests), h2o and apache2
# (interop tests: servers that keep their TLS sessions in memcached, pointed at tlsmeshd), nginx
# (ticket keys written for nginx), haproxy (ticket keys written for HAProxy), tmux (the operator's
# live view driven in a real terminal).
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v ip >/dev/null || missing+=(iproute2)
[ -x /usr/bin/memcached ] || missing+=(memcached)
command -v tmux >/dev/null || missing+=(tmux)
[ -x /usr/bin/h2o ] || missing+=(h2o)
[ -x /usr/sbin/apache2 ] || missing+=(apache2)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# prometheus: its promtool checks and unit-tests the alert rules in deploy/ (test/e2e/operator-kit.test.ts).
[ -x /usr/bin/promtool ] || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts memcached as a service on install; the tests and benchmarks start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet memcached 2>/dev/null; then
  systemctl stop memcached || true
fi
# Likewise h2o and apache2, with a default site on port 80 (apache2 also 443 once ssl is enabled),
# nginx, and haproxy (a master process with an admin socket in /run/haproxy): the tests run their own
# instances from their own config files on high ports. Only what was installed just now is stopped
# and disabled: a server already running on this machine is left alone.
for package in h2o apache2 nginx-light haproxy prometheus; do
  [[ " ${missing[*]} " == *" $package "* ]] || continue
  service=${package%-light}
  if [ -d /run/systemd/system ]; then
    systemctl disable --now --quiet "$service" 2>/dev/null || true
  elif [ -x "/etc/init.d/$service" ]; then
    "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done

# pnpm 10 through npm: corepack cannot verify pnpm's signature against the registry these machines
# reach, and pnpm 10 refuses a corepack-switched copy.
if ! command -v pnpm >/dev/null || [[ "$(pnpm --version 2>/dev/null)" != 10.* ]]; then
  log 'npm install -g pnpm@10'
  npm install -g pnpm@10 >/dev/null 2>&1 || true
fi
if command -v pnpm >/dev/null && [[ "$(pnpm --version 2>/dev/null)" == 10.* ]]; then
  PNPM=(pnpm)
else
  log 'pnpm not on PATH: using npx pnpm@10'
  PNPM=(npx --yes pnpm@10)
fi

# Skip the install when node_modules already matches the lockfile.
stamp=node_modules/.tlsmesh-install-stamp
want=$(cat pnpm-lock.yaml package.json packages/*/package.json apps/*/package.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log 'pnpm install'
  CI=true "${PNPM[@]}" install --frozen-lockfile --reporter=append-only >&2
  echo "$want" >"$stamp"
fi
