#!/usr/bin/env bash
# Runs on the GPU machine from the repository root: the full 20b shape (synthetic checkpoint, hf
# layout, seed 2026) through the cuda backend, the CPU backend and transformers (bfloat16 on the
# GPU), for a 12-token prefill and 64 greedy decode steps. BIN is a tritonllm built for this machine.
# Results go to $OUT.
set -uo pipefail
BIN=${BIN:-build/release/tritonllm}
OUT=${OUT:-/tmp/device_out}
WORK=${WORK:-/tmp/tllm_work}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
ref=scripts/reference
tokens=${TOKENS_20B:-200006,1428,200008,12194,11,1495,553,481,30,200007,200006,173781}

"$BIN" synth --config 20b --layout hf --seed 2026 --out "$WORK/20b" 2>/dev/null
for backend in cuda cpu; do
  "$BIN" logits --backend $backend --model "$WORK/20b" --tokens "$tokens" --out "$WORK/20b.$backend.npy"
done
python3 $ref/reference_logits.py --model "$WORK/20b" --tokens "$tokens" --dtype bfloat16 --device cuda \
  --out "$WORK/20b.hf-bf16.npy" 2>&1 | grep -v -e "Loading weights" -e "Model config" >&2
echo "== 20b: cuda backend vs CPU backend (bf16 precision both)"
python3 $ref/compare_logits.py --ours "$WORK/20b.cuda.npy" --bf16 "$WORK/20b.cpu.npy" | tail -14
echo "== 20b: cuda backend vs transformers bfloat16"
python3 $ref/compare_logits.py --ours "$WORK/20b.cuda.npy" --bf16 "$WORK/20b.hf-bf16.npy" | tail -14
echo "== 20b: CPU backend vs transformers bfloat16"
python3 $ref/compare_logits.py --ours "$WORK/20b.cpu.npy" --bf16 "$WORK/20b.hf-bf16.npy" | tail -4
echo "== 20b: 64 greedy decode steps"
for backend in cuda cpu; do
  "$BIN" generate --backend $backend --model "$WORK/20b" --tokens "$tokens" --max-tokens 65 --stop-ids=-1 \
    >"$WORK/20b.generate.$backend.txt"
done
python3 - "$WORK/20b.generate.cuda.txt" "$WORK/20b.generate.cpu.txt" <<'PY'
import sys
cuda, cpu = ([int(t) for t in open(p).read().strip().split(",")] for p in sys.argv[1:3])
same = next((i for i, (a, b) in enumerate(zip(cuda, cpu)) if a != b), len(cuda))
print(f"cuda and cpu greedy tokens agree on the first {same} of {len(cuda)} tokens")
PY
cp "$WORK"/20b.*.npy "$WORK"/20b.generate.*.txt "$OUT/" 2>/dev/null || true
