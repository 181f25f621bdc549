#!/usr/bin/env bash
# The test command: installs what is missing, checks formatting, builds everything, runs every CPU test, then runs the
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzzer briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
bash scripts/check-format.sh

cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

cmake --preset asan -G Ninja >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan -j "$jobs"

cmake --preset fuzz -G Ninja >/dev/null
cmake --build --preset fuzz -j "$jobs" --target fuzzers
bash scripts/run-fuzzers.sh build/fuzz 20
