#!/usr/bin/env bash
# Fails when a C++ file differs from clang-format's output (.clang-format). Generated files are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | grep -v -e '^src/tokenizer/unicode_tables.cpp$')
bad=0
for file in $files; do
  if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
    echo "not clang-formatted: $file (run: clang-format -i $file)" >&2
    bad=1
  fi
done
exit $bad
