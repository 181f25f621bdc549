#!/usr/bin/env python3
"""Routing near-ties of the float32 reference: for each token, the smallest gap, over all layers,
between the 4th and 5th largest router logits in transformers' float32 forward pass. Where that gap is
tiny, any bfloat16 rounding may swap which experts run, so a bf16 engine can legitimately differ
there. Prints JSON: [gap per token]."""
import argparse
import json

import torch
from transformers import AutoModelForCausalLM, Mxfp4Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    tokens = [int(t) for t in args.tokens.split(",")]
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype=torch.float32, quantization_config=Mxfp4Config(dequantize=True),
        attn_implementation="eager", device_map=args.device).eval().to(torch.float32)
    k = model.config.num_experts_per_tok
    gaps = []

    def hook(module, inputs, output):
        logits = output[0] if isinstance(output, tuple) else output
        top = torch.topk(logits.float(), k + 1, dim=-1).values
        gaps.append((top[:, k - 1] - top[:, k]).cpu())

    for layer in model.model.layers:
        layer.mlp.router.register_forward_hook(hook)
    with torch.no_grad():
        model(input_ids=torch.tensor([tokens], device=args.device), use_cache=False)
    per_token = torch.stack(gaps).min(dim=0).values
    print(json.dumps([round(float(g), 6) for g in per_token]))


if __name__ == "__main__":
    main()
