#!/usr/bin/env bash
# The demo: a local fleet of three HTTPS servers with and without tlsmesh. Extra flags go to the demo
# (--connections N, --loops N, --servers N, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
