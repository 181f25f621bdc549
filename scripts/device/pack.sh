#!/usr/bin/env bash
# Copies what `ctest -L gpu` and the benchmarks need from a build tree (the CTest files, the test
# executables named on the command line and tritonllm) into .devbin/pack, small enough to carry to
# the GPU machine. Usage: scripts/device/pack.sh BUILD_DIR TEST_NAME...
set -euo pipefail
build=$1
shift
pack=.devbin/pack
rm -rf "$pack"
mkdir -p "$pack"
(cd "$build" && find . \( -name CTestTestfile.cmake -o -name '*_include.cmake' -o -name '*_tests.cmake' \) -print0 |
    xargs -0 -I{} cp --parents {} "$OLDPWD/$pack/")
cp "$build/tritonllm" "$pack/"
for test in "$@"; do
    path=$(cd "$build" && find . -name "$test" -type f -perm -u+x | head -1)
    [ -n "$path" ] || { echo "pack: $test not built in $build" >&2; exit 1; }
    (cd "$build" && cp --parents "$path" "$OLDPWD/$pack/")
done
du -sh "$pack"
