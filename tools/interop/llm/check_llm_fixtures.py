#!/usr/bin/env python3
"""Sanity checks for test/fixtures/interop (numpy only; recomputes everything from the stored tensors).

Usage: check_llm_fixtures.py [FIXTURE_DIR]   (default: test/fixtures/interop from the repository root)
Exit code 0 when every check passes. See README.md next to this script.
"""
import base64
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = HERE.parents[2] / "test" / "fixtures" / "interop"
NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64,
      "int32": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}
MAX_PTE = 4 * 1024 * 1024
MAX_DIR = 30 * 1024 * 1024
FLOAT_TOL = 1e-4          # float exports vs transformers eager (absolute, logits ~1)
QUANT_REL_TOL = 0.05      # quantized exports vs torchao-quantized eager, relative to max |logit|

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def arr(v):
    assert v["type"] == "tensor", v
    a = np.frombuffer(base64.b64decode(v["data"]), dtype=NP[v["dtype"]])
    return a.reshape(v["shape"])


def scalar(vals):
    return [v["value"] for v in vals]


def check_fixture(d, doc, entry):
    name = entry["name"]
    pte = d / doc["file"]
    data = pte.read_bytes()
    check(hashlib.sha256(data).hexdigest() == doc["sha256"] == entry["sha256"], f"{name}: sha256 mismatch")
    check(len(data) < MAX_PTE, f"{name}: .pte is {len(data)} bytes")
    run = doc["run"]
    prompt = doc["prompt"]
    S = len(prompt)
    consts = {k: scalar(v) for k, v in doc["constantMethods"].items()}
    check(consts.get("get_max_seq_len") == [64], f"{name}: get_max_seq_len {consts.get('get_max_seq_len')}")
    check(consts.get("get_vocab_size") == [512], f"{name}: get_vocab_size")
    check(consts.get("use_kv_cache") == [True], f"{name}: use_kv_cache")
    check(consts.get("use_sdpa_with_kv_cache") == [True], f"{name}: use_sdpa_with_kv_cache")
    check(consts.get("enable_dynamic_shape") == [True], f"{name}: enable_dynamic_shape")
    V = consts["get_vocab_size"][0]

    pre = arr(run["prefill"]["logits"])
    check(pre.shape == (1, S, V), f"{name}: prefill logits shape {pre.shape}")
    check(int(pre[0, -1].argmax()) == run["firstToken"] == run["generated"][0],
          f"{name}: argmax(prefill[-1]) != first token")
    rows = [pre[0]]
    tok = run["generated"][0]
    for i, step in enumerate(run["decode"]):
        lg = arr(step["logits"])
        check(lg.shape == (1, 1, V), f"{name}: step {i} shape")
        check(step["inputToken"] == tok and step["cachePosition"] == S + i, f"{name}: step {i} inputs")
        check(int(lg[0, -1].argmax()) == step["argmax"] == run["generated"][i + 1], f"{name}: step {i} argmax")
        tok = step["argmax"]
        rows.append(lg[0])
    et = np.concatenate(rows, 0)[None]
    check(doc["eager"]["sequence"] == prompt + run["generated"][:-1], f"{name}: eager sequence")

    ref = arr(doc["eager"]["logits"])
    check(ref.shape == et.shape, f"{name}: eager shape {ref.shape} vs {et.shape}")
    diff_f = float(np.abs(et.astype(np.float64) - ref).max())
    quant = entry["qlinear"] or entry["qembedding"]
    line = f"{name:28s} {len(data):8d} B  vs float eager {diff_f:9.3g}"
    if not quant:
        check(diff_f < FLOAT_TOL, f"{name}: float export differs from eager by {diff_f}")
    else:
        qref = arr(doc["eager"]["quantizedLogits"])
        diff_q = float(np.abs(et.astype(np.float64) - qref).max())
        scale = float(np.abs(qref).max())
        line += f"  vs quantized eager {diff_q:9.3g} (max|ref| {scale:.3g})"
        if entry.get("knownIssue"):
            line += "  [known issue: not compared]"
        else:
            check(diff_q < QUANT_REL_TOL * scale, f"{name}: quantized export differs from quantized eager by {diff_q}")

    # The program/method layout.
    methods = doc["program"]["methodNames"]
    if entry["task"] == "text-generation":
        check("forward" in methods, f"{name}: no forward")
        ins = doc["program"]["methods"]["forward"]["inputs"]
        check([i["scalarType"] for i in ins] == ["LONG", "LONG"], f"{name}: forward input types")
        check(all(i["shapeDynamism"] == "DYNAMIC_BOUND" for i in ins), f"{name}: forward inputs not dynamic")
    else:
        for m in ("vision_encoder", "token_embedding", "text_decoder"):
            check(m in methods, f"{name}: no {m}")
        emb = arr(run["tokenEmbedding"]["output"])
        feats = arr(run["visionEncoder"]["output"])
        merged = arr(run["prefill"]["inputs"][0])
        pos = run["imageTokenPositions"]
        image_id = scalar(doc["constantMethods"]["vision_token_id"])[0]
        check(pos == [i for i, t in enumerate(prompt) if t == image_id], f"{name}: image positions")
        check(np.array_equal(merged[0, pos], feats.reshape(-1, feats.shape[-1])), f"{name}: scattered features")
        other = [i for i in range(S) if i not in pos]
        check(np.array_equal(merged[0, other], emb[0, other]), f"{name}: text embeddings")
        pv = arr(run["visionEncoder"]["inputs"][0])
        n = pv.size
        gen = np.sin(np.arange(n, dtype=np.float64) * 0.01).astype(np.float32).reshape(pv.shape)
        check(np.array_equal(gen, pv), f"{name}: pixel_values do not follow the documented formula")
        if not quant:
            fe = arr(doc["eager"]["imageFeatures"]).reshape(feats.shape)
            check(float(np.abs(fe - feats).max()) < FLOAT_TOL, f"{name}: vision features vs eager")
    print(line)


def main():
    d = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    index = json.loads((d / "INDEX.json").read_text())
    listed = set()
    for entry in index["fixtures"]:
        listed |= {entry["pte"], entry["json"]}
        doc = json.loads((d / entry["json"]).read_text())
        try:
            check_fixture(d, doc, entry)
        except Exception as e:  # a malformed file is a failure, not a crash
            failures.append(f"{entry['name']}: {type(e).__name__}: {e}")
    extra = {p.name for p in d.iterdir()} - listed - {"INDEX.json"}
    check(not extra, f"files not in INDEX.json: {sorted(extra)}")
    total = sum(p.stat().st_size for p in d.iterdir())
    check(total < MAX_DIR, f"folder is {total} bytes")
    print(f"total {total} bytes in {len(list(d.iterdir()))} files")
    if index.get("failures"):
        print("export failures recorded in INDEX.json:", index["failures"])
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
