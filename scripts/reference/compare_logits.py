#!/usr/bin/env python3
"""Compares our logits with transformers' float32 and bfloat16 logits per position, under the rule
of tests/model/golden_test.cpp (a position matches when either reference is within tolerance)."""
import argparse
import sys

import numpy as np

F32_TOLERANCE = 1e-2
BF16_TOLERANCE = 2.5e-2


def relative_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b.astype(np.float64)), 1e-30))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ours", required=True)
    parser.add_argument("--f32")
    parser.add_argument("--bf16")
    parser.add_argument("--f32-tolerance", type=float, default=F32_TOLERANCE)
    args = parser.parse_args()
    ours = np.load(args.ours)
    refs = {name: np.load(path) for name, path in (("f32", args.f32), ("bf16", args.bf16)) if path}
    failures = 0
    for p in range(ours.shape[0]):
        errors = {name: relative_l2(ours[p], ref[p]) for name, ref in refs.items()}
        ok = errors.get("f32", 1.0) <= args.f32_tolerance or errors.get("bf16", 1.0) <= BF16_TOLERANCE
        failures += not ok
        agree = {name: int(ours[p].argmax()) == int(ref[p].argmax()) for name, ref in refs.items()}
        print(f"position {p:3d}: " + "  ".join(f"e_{k} {v:.2e}" for k, v in errors.items())
              + "  argmax agrees " + str(agree) + ("" if ok else "  MISMATCH"))
    for name, ref in refs.items():
        errors = sorted(relative_l2(ours[p], ref[p]) for p in range(ours.shape[0]))
        print(f"vs {name}: median {errors[len(errors) // 2]:.2e}, max {errors[-1]:.2e}")
    print(f"{ours.shape[0] - failures} of {ours.shape[0]} positions match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
