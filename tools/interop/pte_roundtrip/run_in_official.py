#!/usr/bin/env python3
"""Run .pte files written by executorch-node's writer (lib/export/pte) in the OFFICIAL
ExecuTorch runtime (pip executorch, `executorch.runtime`) and compare the outputs with
the ones our runtime gave.

The programs come from the tests:
    EXECUTORCH_NODE_DUMP_PTE=/tmp/pte-dump npx vitest run test/export-pte.test.ts
which write <dir>/<name>.pte and <dir>/<name>.json ({name, sha256, tolerance, cases:
[{method, inputs, outputs}]}, values as in test/helpers/pte-roundtrip.ts).

Usage: run_in_official.py [DIR] [--record] [--only SUBSTRING]
  DIR       defaults to $EXECUTORCH_NODE_DUMP_PTE
  --record  store the official outputs in official-results.json next to this script
            (merged with what is there); test/export-pte.test.ts compares our outputs
            with them on every run, without Python.
Prints one line per program (and a JSON report with --json); exits 1 if the official
runtime rejects a program or an output differs beyond the program's tolerance.

Each program runs in a child process, so a crash of the official runtime is reported
as such instead of ending the run.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "official-results.json"

DTYPES = {  # fixture dtype name -> (numpy dtype name, torch dtype attribute)
    "float32": ("float32", "float32"), "float64": ("float64", "float64"), "int64": ("int64", "int64"),
    "int32": ("int32", "int32"), "int16": ("int16", "int16"), "int8": ("int8", "int8"),
    "uint8": ("uint8", "uint8"), "bool": ("bool", "bool"), "float16": ("float16", "float16"),
    "bfloat16": ("int16", "bfloat16"),
}


# --------------------------------------------------------------------------- child: run one program
def to_torch(v):
    import numpy as np
    import torch
    t = v["type"]
    if t == "tensor":
        np_name, torch_name = DTYPES[v["dtype"]]
        arr = np.frombuffer(base64.b64decode(v["data"]), dtype=np_name).copy().reshape(v["shape"])
        x = torch.from_numpy(arr)
        return x.view(torch.bfloat16) if torch_name == "bfloat16" else x
    if t in ("int", "double", "bool", "string"):
        return v["value"]
    if t == "none":
        return None
    raise ValueError(f"input of type {t}")


def from_torch(x):
    import torch
    if isinstance(x, torch.Tensor):
        x = x.detach().contiguous().cpu()
        names = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.int32: "int32",
                 torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
                 torch.float16: "float16", torch.bfloat16: "bfloat16"}
        raw = (x.view(torch.int16) if x.dtype == torch.bfloat16 else x).numpy().tobytes()
        return {"type": "tensor", "dtype": names[x.dtype], "shape": list(x.shape), "data": base64.b64encode(raw).decode()}
    if x is None:
        return {"type": "none"}
    if isinstance(x, bool):
        return {"type": "bool", "value": x}
    if isinstance(x, int):
        return {"type": "int", "value": x}
    if isinstance(x, float):
        return {"type": "double", "value": x}
    if isinstance(x, str):
        return {"type": "string", "value": x}
    return {"type": "unknown", "repr": repr(x)}


def run_one(pte_path, spec_path):
    # The LLM ops are not in the runtime until these register them:
    # llama::custom_sdpa.out / update_cache.out / update_cache_with_indices.out ...
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401
    # quantized_decomposed::embedding_byte.out / embedding_4bit.out and friends.
    import executorch.kernels.quantized  # noqa: F401
    from executorch.runtime import Runtime
    spec = json.loads(Path(spec_path).read_text())
    result = {"name": spec["name"], "sha256": spec["sha256"], "load": {"ok": True}, "cases": []}
    try:
        program = Runtime.get().load_program(Path(pte_path))
    except Exception as e:  # noqa: BLE001 - report whatever the runtime raises
        result["load"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        return result
    for case in spec["cases"]:
        entry = {"method": case["method"], "ok": True}
        try:
            method = program.load_method(case["method"])
            outputs = method.execute([to_torch(v) for v in case["inputs"]])
            entry["outputs"] = [from_torch(o) for o in outputs]
        except Exception as e:  # noqa: BLE001
            entry = {"method": case["method"], "ok": False, "error": f"{type(e).__name__}: {e}"}
        result["cases"].append(entry)
    return result


# --------------------------------------------------------------------------- parent: compare
def floats(v):
    import numpy as np
    return np.frombuffer(base64.b64decode(v["data"]), dtype="float32")


def compare(ours, theirs, tol):
    """Returns None if equal within tolerance, else a description of the first difference."""
    if len(ours) != len(theirs):
        return f"{len(ours)} outputs vs {len(theirs)}"
    for k, (o, t) in enumerate(zip(ours, theirs)):
        if o["type"] == "tensor" or t["type"] == "tensor":
            if o["type"] != t["type"] or o["shape"] != t["shape"] or o["dtype"] != t["dtype"]:
                return f"output {k}: {o.get('dtype')}{o.get('shape')} vs {t.get('dtype')}{t.get('shape')}"
            if o["dtype"] == "float32":
                a, b = floats(o), floats(t)
                scale = float(abs(b).max()) if b.size else 0.0
                worst = float(abs(a - b).max()) if b.size else 0.0
                bound = tol["rtol"] * scale + tol.get("atol", 0.0)
                if worst > bound:
                    return f"output {k}: max |ours - official| = {worst:.3g} > {bound:.3g}"
            elif o["data"] != t["data"]:
                return f"output {k}: {o['dtype']} data differs"
        else:
            # JS numbers do not tell int from double: compare the values.
            if o.get("value") != t.get("value"):
                return f"output {k}: {o} vs {t}"
    return None


def digest(outputs):
    import hashlib
    return hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()


def max_diff(ours, theirs):
    worst = 0.0
    for o, t in zip(ours, theirs):
        if o.get("type") == "tensor" and o.get("dtype") == "float32" and t.get("type") == "tensor" and o["shape"] == t["shape"]:
            a, b = floats(o), floats(t)
            if b.size:
                worst = max(worst, float(abs(a - b).max()))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default=os.environ.get("EXECUTORCH_NODE_DUMP_PTE"))
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--only", default=None)
    ap.add_argument("--json", action="store_true", help="print the full report as JSON")
    ap.add_argument("--child", nargs=2, metavar=("PTE", "SPEC"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(run_one(*args.child)))
        return 0
    if not args.dir:
        ap.error("give the dump folder (or set EXECUTORCH_NODE_DUMP_PTE)")
    folder = Path(args.dir)
    specs = sorted(p for p in folder.glob("*.json") if not p.name.endswith(".official.json"))
    if args.only:
        specs = [p for p in specs if args.only in p.stem]
    if not specs:
        print(f"no programs in {folder}", file=sys.stderr)
        return 1

    report = {}
    official_outputs = {}
    failures = 0
    for spec_path in specs:
        spec = json.loads(spec_path.read_text())
        pte = spec_path.with_suffix(".pte")
        proc = subprocess.run([sys.executable, __file__, "--child", str(pte), str(spec_path)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout.strip():
            result = {"name": spec["name"], "sha256": spec["sha256"],
                      "load": {"ok": False, "error": f"official runtime process died (exit {proc.returncode}): "
                                                     f"{proc.stderr.strip().splitlines()[-1:] }"},
                      "cases": []}
        else:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        (folder / f"{spec['name']}.official.json").write_text(json.dumps(result, indent=1))

        problems = []
        if not result["load"]["ok"]:
            problems.append(f"load failed: {result['load']['error']}")
        worst = 0.0
        for i, (ours, theirs) in enumerate(zip(spec["cases"], result["cases"])):
            if not theirs["ok"]:
                problems.append(f"{ours['method']} case {i}: {theirs['error']}")
                continue
            diff = compare(ours["outputs"], theirs["outputs"], spec["tolerance"])
            theirs["maxAbsDiffVsOurs"] = max_diff(ours["outputs"], theirs["outputs"])
            theirs["withinTolerance"] = diff is None
            theirs["digest"] = digest(theirs["outputs"])
            worst = max(worst, theirs["maxAbsDiffVsOurs"])
            if diff:
                problems.append(f"{ours['method']} case {i}: {diff}")
        official_outputs[spec["name"]] = [c.get("digest") for c in result["cases"]]
        # The record keeps small outputs in full (the tests compare them with ours on every
        # run) and big ones (LLM logits) as digests and the difference from ours.
        for c in result["cases"]:
            if len(json.dumps(c.get("outputs", []))) > 8192:
                c.pop("outputs", None)
        report[spec["name"]] = result
        failures += bool(problems)
        status = "FAIL" if problems else "ok"
        print(f"{status:4} {spec['name']}: {len(spec['cases'])} case(s), max |ours - official| = {worst:.3g}"
              + "".join(f"\n       {p}" for p in problems))

    # Rewritten official exports: the official runtime must behave exactly as on the original.
    for name, digests in sorted(official_outputs.items()):
        for prefix in ("roundtrip_", "reencoded_"):
            if name.startswith(prefix) and "original_" + name[len(prefix):] in official_outputs:
                same = digests == official_outputs["original_" + name[len(prefix):]]
                report[name]["sameAsOriginal"] = same
                print(f"{'ok' if same else 'FAIL':4} {name}: official outputs "
                      + ("bit-identical to" if same else "DIFFER from") + " the original export's")
                failures += not same

    if args.record:
        old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"programs": {}}
        old["programs"].update(report)
        old["executorch"] = pkg_version("executorch")
        old["torch"] = pkg_version("torch")
        old["programs"] = dict(sorted(old["programs"].items()))
        RESULTS.write_text(json.dumps(old, indent=1) + "\n")
        print(f"recorded {len(report)} program(s) in {RESULTS}")
    if args.json:
        print(json.dumps(report, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
