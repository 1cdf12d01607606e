#!/usr/bin/env python3
"""torchao's scale-only HQQ on a few matrices, as the exporter's quantizer must reproduce it.

Usage (repository root, interop venv): python tools/interop/hqq/make_hqq_fixtures.py
Writes test/fixtures/hqq/<case>.{w,q,s}.bin (float32 weights, int8 codes, float32 scales,
little endian, C order) and test/fixtures/hqq/INDEX.json with the shapes and parameters.

The function is the one optimum-executorch's default quantization path calls
(torchao.quantization.quant_primitives._choose_qparams_and_quantize_scale_only_hqq,
block [1, group], 20 iterations, early stop 1e-5). Its sums are float32 reductions in
torch's own order, which is what makes a bit-exact reimplementation worth a fixture.
"""
import json
from pathlib import Path

import numpy as np
import torch
from torchao.quantization.quant_primitives import _choose_qparams_and_quantize_scale_only_hqq

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "test" / "fixtures" / "hqq"

CASES = [
    # name, rows, cols, group, qmin, qmax, std
    ("int4_g32", 96, 256, 32, -8, 7, 0.02),
    ("int4_g32_wide", 8, 5632, 32, -8, 7, 1.0),
    ("int8_rows", 48, 2048, 2048, -128, 127, 0.05),
    ("int8_rows_long", 6, 16384, 16384, -128, 127, 1.0),
    ("int4_rows", 40, 1024, 1024, -8, 7, 0.1),
    ("int4_g128", 24, 768, 128, -8, 7, 0.3),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(20261128)
    index = {"torch": torch.__version__, "cases": []}
    for name, rows, cols, group, qmin, qmax, std in CASES:
        w = torch.randn(rows, cols, generator=gen, dtype=torch.float32) * std
        # a few exact zeros and a zero row: the eps clamp and den == 0 paths
        w[0, :group] = 0
        w[1, 3] = 0
        q, s = _choose_qparams_and_quantize_scale_only_hqq(w, [1, group], qmin, qmax)
        for suffix, t, dt in (("w", w, np.float32), ("q", q, np.int8), ("s", s, np.float32)):
            (OUT / f"{name}.{suffix}.bin").write_bytes(t.numpy().astype(dt).tobytes())
        index["cases"].append({"name": name, "rows": rows, "cols": cols, "group": group, "qmin": qmin, "qmax": qmax})
        print(name, rows, cols, group)
    (OUT / "INDEX.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
