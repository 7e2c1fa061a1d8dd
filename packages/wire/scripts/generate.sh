#!/usr/bin/env sh
# Regenerates src/messages.generated.ts from src/messages.proto (run from anywhere).
#
# protons names its output after the .proto; the `.generated.ts` suffix keeps it out of biome. Its
# output then needs two fixes, applied here so that regenerating stays one command:
# - protons 9 (the newest) writes code typed for protons-runtime 7, whose Codec<T> has one type
#   parameter; runtime 8, which we depend on, split it into Codec<Decoded, Encoded> and takes the
#   full type (not Partial) to encode. Its JavaScript is unchanged, so only the types are patched.
# - it imports `uint8arrays/alloc` only for the empty default of a bytes field, and uint8arrays is
#   not a dependency of this package, so that becomes `new Uint8Array(0)`.
set -eu
cd "$(dirname "$0")/.."
npx --no-install protons src/messages.proto
sed -E \
  -e "/^import \{ alloc as uint8ArrayAlloc \} from 'uint8arrays\/alloc'$/d" \
  -e 's/uint8ArrayAlloc\(0\)/new Uint8Array(0)/g' \
  -e 's/Codec<([A-Za-z0-9_]+)>/Codec<\1, \1>/g' \
  -e 's/message<([A-Za-z0-9_]+)>\(/message<\1, \1>(/g' \
  -e 's/encode \(obj: Partial<([A-Za-z0-9_]+)>\)/encode (obj: \1)/g' \
  src/messages.ts > src/messages.generated.ts
rm src/messages.ts
if grep -Eq 'uint8arrays|Partial<|Codec<[A-Za-z0-9_]+>' src/messages.generated.ts; then
  echo 'generate.sh: protons output changed shape; update the sed rules' >&2
  exit 1
fi
