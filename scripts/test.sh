#!/usr/bin/env bash
# The whole test suite: setup, then lint + format + type-check, unit tests and cross-process tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
echo '== lint, format, type-check'
biome check .
tsc -p tsconfig.json --noEmit
if [ "$#" -gt 0 ]; then
  exec vitest run "$@"
fi
# Unit tests first, then the cross-process ones alone: those measure timing-sensitive behaviour
# (propagation, failover, resumption rates) that a parallel unit run on 2 cores would disturb.
echo '== unit tests'
vitest run --project unit
echo '== cross-process tests'
vitest run --project e2e
