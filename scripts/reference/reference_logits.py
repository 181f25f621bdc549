#!/usr/bin/env python3
"""Golden logits from Hugging Face transformers (an implementation independent of ours).

Loads a gpt-oss checkpoint in the Hugging Face layout (as written by `tritonllm synth --layout hf`),
dequantizing the MXFP4 experts with transformers' own code, runs one forward pass over the tokens
with eager attention and no cache, and saves float32 logits [n_tokens, vocab] as .npy.

Runs where PyTorch and transformers are installed (the GPU machine):
  python3 scripts/reference/reference_logits.py --model DIR --tokens 1,2,3 --dtype float32 --out ref.npy
"""
import argparse
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, Mxfp4Config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", required=True, help="comma-separated token ids")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.manual_seed(0)
    # Exact float32 matrix products: no TF32 on the GPU.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtype = getattr(torch, args.dtype)
    tokens = [int(t) for t in args.tokens.split(",")]

    model = AutoModelForCausalLM.from_pretrained(
        args.model,
        dtype=dtype,
        quantization_config=Mxfp4Config(dequantize=True),
        attn_implementation="eager",
        device_map=args.device,
    ).eval()
    # transformers keeps the dequantized experts in bfloat16 whatever dtype was asked for, which
    # would make the "float32" reference compute its MoE in bfloat16; the MXFP4 values are exact in
    # any float type, so casting the whole model makes it a true float32 (or bfloat16) reference.
    model = model.to(dtype)
    stray = {str(p.dtype) for p in model.parameters() if p.dtype != dtype}
    if stray:
        raise SystemExit(f"parameters left in {stray}, expected {dtype}")
    with torch.no_grad():
        output = model(input_ids=torch.tensor([tokens], device=args.device), use_cache=False)
    logits = output.logits[0].float().cpu().numpy()
    np.save(args.out, logits.astype(np.float32))
    print(f"{args.out}: {logits.shape} {args.dtype} on {args.device}; "
          f"first row argmax {int(logits[0].argmax())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
