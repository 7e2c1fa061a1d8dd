#!/usr/bin/env bash
# The whole test suite: setup, then lint + format + type-check, unit tests and cross-process tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
echo '== lint, format, type-check'
biome check .
tsc -p tsconfig.json --noEmit
echo '== tests'
vitest run "$@"
