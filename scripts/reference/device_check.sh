#!/usr/bin/env bash
# Runs on the GPU machine (PyTorch + transformers installed), from the repository root:
#   1. regenerates the golden logits of tests/data/golden/manifest.json with transformers
#      (float32 and bfloat16, on the CPU) and compares the CPU engine (both precisions) with them;
#   2. the 20b shape with 6 layers: transformers float32 and bfloat16 (GPU) against the CPU engine;
#   3. the full 20b shape: transformers bfloat16 (GPU) against the CPU engine; its logits are kept in
#      $OUT/20b.bf16.npy so that the engine can be compared again elsewhere on the same checkpoint
#      (`tritonllm synth --config 20b --layout hf --seed 2026` regenerates it anywhere).
# BIN is a tritonllm binary built for this machine (the `portable` preset). Results go to $OUT.
set -euo pipefail
BIN=${BIN:-.devbin/tritonllm}
OUT=${OUT:-/tmp/device_out}
WORK=${WORK:-/tmp/tllm_work}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
ref=scripts/reference

# check NAME MODEL TOKENS DEVICE DTYPES...: transformers logits for each dtype, ours in both precisions.
check() {
  local name=$1 model=$2 tokens=$3 device=$4
  shift 4
  for dtype in "$@"; do
    local short=$([[ $dtype == float32 ]] && echo f32 || echo bf16)
    python3 $ref/reference_logits.py --model "$model" --tokens "$tokens" --dtype "$dtype" --device "$device" \
      --out "$WORK/$name.$short.npy" 2>&1 | grep -v -e "Loading weights" -e "Model config" >&2
  done
  for precision in f32 bf16; do
    "$BIN" logits --model "$model" --tokens "$tokens" --precision $precision --out "$WORK/$name.ours-$precision.npy"
  done
  local refs=()
  [[ -f $WORK/$name.f32.npy ]] && refs+=(--f32 "$WORK/$name.f32.npy")
  [[ -f $WORK/$name.bf16.npy ]] && refs+=(--bf16 "$WORK/$name.bf16.npy")
  for precision in f32 bf16; do
    echo "== $name: CPU engine ($precision) vs transformers"
    python3 $ref/compare_logits.py --ours "$WORK/$name.ours-$precision.npy" "${refs[@]}" | tail -4 || true
  done
  if [[ -f $WORK/$name.f32.npy && -f $WORK/$name.bf16.npy ]]; then
    echo "== $name: transformers bfloat16 vs transformers float32 (how far bf16 itself drifts)"
    python3 $ref/compare_logits.py --ours "$WORK/$name.bf16.npy" --f32 "$WORK/$name.f32.npy" | tail -3 || true
  fi
}

cases=$(python3 -c "import json;[print(c['name'],c['config'],c['seed'],','.join(map(str,c['tokens']))) for c in json.load(open('tests/data/golden/manifest.json'))['cases']]")
while read -r name config seed tokens; do
  "$BIN" synth --config "tests/data/golden/$config" --layout hf --seed "$seed" --out "$WORK/$name" 2>/dev/null
  check "$name" "$WORK/$name" "$tokens" cpu float32 bfloat16
  cp "$WORK/$name.f32.npy" "$WORK/$name.bf16.npy" "$OUT/"
done <<<"$cases"

tokens=${TOKENS_20B:-200006,1428,200008,12194,11,1495,553,481,30,200007,200006,173781}
"$BIN" synth --config $ref/20b_6_layers.json --layout hf --seed 2026 --out "$WORK/20b6" 2>/dev/null
check 20b6 "$WORK/20b6" "$tokens" cuda float32 bfloat16
rm -rf "$WORK/20b6"
if [[ ${SKIP_20B:-0} != 1 ]]; then
  "$BIN" synth --config 20b --layout hf --seed 2026 --out "$WORK/20b" 2>/dev/null
  check 20b "$WORK/20b" "$tokens" cuda bfloat16
  cp "$WORK/20b.bf16.npy" "$OUT/"
fi
