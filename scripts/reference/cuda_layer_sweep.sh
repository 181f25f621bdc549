#!/usr/bin/env bash
# Runs on the GPU machine: the 20b shape cut to 1, 2, 3 and 6 layers, cuda backend against the CPU
# backend (both bf16 precision) on a 12-token prefill, to show how the two drift apart with depth
# (routing near-ties on random weights) rather than at any one layer. Also prints the smallest
# gap between the 4th and 5th router logit per position (CPU f32 reference), which decides whether a
# bf16 rounding difference can change the experts. BIN as in cuda_20b_check.sh.
set -uo pipefail
BIN=${BIN:-build/release/tritonllm}
WORK=${WORK:-/tmp/tllm_work}
mkdir -p "$WORK"
ref=scripts/reference
tokens=${TOKENS_20B:-200006,1428,200008,12194,11,1495,553,481,30,200007,200006,173781}
for n in 1 2 3 6; do
  "$BIN" synth --config $ref/20b_${n}_layers.json --layout hf --seed 2026 --out "$WORK/20b$n" 2>/dev/null
  for backend in cuda cpu; do
    "$BIN" logits --backend $backend --model "$WORK/20b$n" --tokens "$tokens" --out "$WORK/20b$n.$backend.npy" 2>/dev/null
  done
  echo "== 20b shape, $n layers: cuda vs cpu"
  python3 $ref/compare_logits.py --ours "$WORK/20b$n.cuda.npy" --bf16 "$WORK/20b$n.cpu.npy" | tail -2
  rm -rf "$WORK/20b$n"
done
