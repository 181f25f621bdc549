#!/usr/bin/env bash
# The test command: installs what is missing, checks formatting, builds everything with every CUBIN, runs every CPU
# test, packs the release tarball and tests it from an empty folder, runs the tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer, then each fuzzer briefly (built by the sanitizer build). Each stage's time goes to
# stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$SECONDS
stage_start=$SECONDS
stage() {
  echo "test.sh: $1 done in $((SECONDS - stage_start)) s ($((SECONDS - start)) s in all)" >&2
  stage_start=$SECONDS
}
# The release and portable builds compile the same objects: ccache (inside this clone's build folder, so a fresh
# clone starts empty) lets the portable build take the release build's.
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/ccache}

bash scripts/install-deps.sh
bash scripts/check-format.sh
stage "dependencies and formatting"

cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$jobs"
stage "release build"
ctest --preset release -j "$jobs"
stage "release tests"

bash scripts/package.sh --test >/dev/null
stage "release tarball and its test"

# One clang build serves the sanitizer tests and the fuzzers: every library compiled once with AddressSanitizer,
# UndefinedBehaviorSanitizer and the fuzzers' coverage instrumentation, instead of a GCC build for the tests and a
# clang build of the same libraries for the fuzzers.
cmake --preset asan -G Ninja >/dev/null
cmake --build --preset asan -j "$jobs"
stage "sanitizer build (tests and fuzzers)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan -j "$jobs"
stage "sanitizer tests"
bash scripts/run-fuzzers.sh build/asan 20
stage "fuzzing"
