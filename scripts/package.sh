#!/usr/bin/env bash
# Makes the release tarball from the `portable` preset: bin/tritonllm (static libstdc++, CUBINs for every shipped
# arch inside), the non-glibc shared libraries in lib/, docs and THIRD_PARTY_NOTICES.md with every license. It runs
# on x86-64 Linux with glibc 2.34 or newer and, for the GPU, an NVIDIA driver; NVRTC (TRITONLLM_JIT_BACKEND=nvrtc)
# needs a CUDA toolkit. Prints the tarball's path on stdout.
#   scripts/package.sh [--test]   (--test also runs tests/package/tarball_test.sh on it)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset portable -G Ninja >/dev/null
cmake --build --preset portable -j "$(nproc)" --target tritonllm
rm -rf build/portable/package
(cd build/portable && cpack --config CPackConfig.cmake >&2)
tarballs=(build/portable/package/*.tar.gz)
((${#tarballs[@]} == 1)) || { echo "package: expected one tarball, found: ${tarballs[*]}" >&2; exit 1; }
tarball=$(realpath "${tarballs[0]}")
echo "package: $tarball ($(du -h "$tarball" | cut -f1))" >&2
if [[ ${1:-} == --test ]]; then
  bash tests/package/tarball_test.sh "$tarball" "$(git rev-parse --short=12 HEAD 2>/dev/null || true)"
fi
echo "$tarball"
