#!/usr/bin/env python3
"""Run every .pte under pte-wild through the OFFICIAL ExecuTorch Python runtime and
write reference inputs/outputs (or the failure) as JSON fixtures.

Usage: make_official_outputs.py [PTE_WILD_DIR] [--out OUT_DIR]
  PTE_WILD_DIR defaults to $PTE_WILD_DIR, else ../../../shared/fixtures/pte-wild (relative to
  this script); OUT_DIR defaults to ../../test/fixtures/official (relative to this script).
See README.md next to this script for the file format and the input generators.
"""
import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import signal
import struct
import subprocess
import sys
import tempfile
from importlib.metadata import version as pkg_version
from pathlib import Path

import numpy as np
import torch
from executorch.runtime import Runtime

HERE = Path(__file__).resolve().parent
MAX_STORED = 262144  # elements; bigger tensors are summarised (outputs) or generated (inputs)
N_SAMPLES = 4096

DTYPES = {  # ScalarType name in the .pte -> (fixture dtype name, torch dtype)
    "BYTE": ("uint8", torch.uint8), "CHAR": ("int8", torch.int8), "SHORT": ("int16", torch.int16),
    "INT": ("int32", torch.int32), "LONG": ("int64", torch.int64), "HALF": ("float16", torch.float16),
    "FLOAT": ("float32", torch.float32), "DOUBLE": ("float64", torch.float64),
    "BOOL": ("bool", torch.bool), "BFLOAT16": ("bfloat16", torch.bfloat16),
    "UINT16": ("uint16", torch.uint16),
}
TORCH_TO_NAME = {t: n for n, t in DTYPES.values()}

# .pte -> .ptd pairing that the "same stem" rule does not find.
EXTRA_PTD = {
    "barakugav__executorch-rs/examples__data_map__model__model@48b2595c3c.pte":
        "barakugav__executorch-rs/examples__data_map__model___default_external_constant@48b2595c3c.ptd",
}
# Integer inputs whose range matters: (file, method, input position) -> [low, high).
INT_RANGES = {
    # xor.pte: label feeds nll_loss (gather over 2 classes) -> must be 0 or 1.
    ("pytorch__executorch/extension__android__executorch_android__src__androidTest__resources__xor@9c80c531da.pte",
     "forward", 1): (0, 2),
}
DEFAULT_INT_RANGE = (0, 16)
# Smaller shapes used for the extra case of DYNAMIC_BOUND inputs: (file, method, position) -> shape.
SMALL_SHAPES = {
    ("corey-cole__executorch-numpy-runtime/tests__models__dynamic@3a558b1ebe.pte", "forward", 0): [5],
    ("corey-cole__simple-torch-model/model@b01998764d.pte", "forward", 0): [1, 1, 64, 64],
}
STRESS = "corey-cole__djl-executorch-engine/src__test__resources__models__stress__stress_mlp@6d3450d6d3.pte"
STRESS_GOLDEN = "corey-cole__djl-executorch-engine/golden/models__stress__stress_golden.json"


# --------------------------------------------------------------------------- helpers
LOG_PATH = None  # worker: file that receives the runtime's fd-2 log during each call
PROGRESS_PATH = None  # worker: file where the current stage is appended (survives a crash)
CURRENT_ITEM = 0


def progress(line):
    if PROGRESS_PATH:
        with open(PROGRESS_PATH, "a") as f:
            f.write(f"{CURRENT_ITEM}\t{line}\n")


@contextlib.contextmanager
def capture_fd2(sink):
    """Collect what the C++ runtime logs on fd 2 during the block (appended to sink)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(LOG_PATH, "w+b") if LOG_PATH else tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.extend(clean_log(tmp.read().decode("utf-8", "replace")))


NOISE = ("cpuinfo_utils", "_pytree", "register_constant")


def clean_log(text):
    """Runtime log lines, minus noise and the per-argument dtype/dim-order dump of a missing kernel."""
    return [l for l in text.splitlines() if l.strip() and not any(n in l for n in NOISE)
            and not ("[operator_registry.cpp:" in l and "not found" not in l)]


def seed_for(rel):
    return int.from_bytes(hashlib.sha256(rel.encode()).digest()[:4], "little") & 0x7FFFFFFF


def raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.bfloat16, torch.uint16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def tensor_value(t):
    name = TORCH_TO_NAME[t.dtype]
    v = {"type": "tensor", "dtype": name, "shape": list(t.shape)}
    n = t.numel()
    if n <= MAX_STORED:
        v["data"] = base64.b64encode(raw_bytes(t)).decode()
        return v
    flat = t.detach().contiguous().reshape(-1)
    f64 = flat.to(torch.float64)
    k = max(1, n // N_SAMPLES)
    v["summary"] = {
        "sum": float(f64.sum()), "absSum": float(f64.abs().sum()),
        "min": float(f64.min()), "max": float(f64.max()),
        "sampleStride": k, "samples": base64.b64encode(raw_bytes(flat[::k])).decode(),
    }
    return v


def to_value(x):
    if isinstance(x, torch.Tensor):
        return tensor_value(x)
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
    if isinstance(x, (list, tuple)):
        return {"type": "list", "items": [to_value(i) for i in x]}
    return {"type": "unknown", "repr": repr(x)}


def sin_tensor(shape, dtype, offset, scale=0.001):
    """value_i = float32(sin(i*scale + offset)), computed in float64 with libm (math.sin)."""
    n = math.prod(shape)
    vals = np.fromiter((math.sin(i * scale + offset) for i in range(n)), dtype=np.float64, count=n)
    return torch.from_numpy(vals).to(dtype).reshape(shape)


SCALAR_TYPE_IDS = {0: "BYTE", 1: "CHAR", 2: "SHORT", 3: "INT", 4: "LONG", 5: "HALF", 6: "FLOAT",
                   7: "DOUBLE", 11: "BOOL", 15: "BFLOAT16", 27: "UINT16"}


def meta_spec(info):
    return {"val_type": "Tensor",
            "val": {"scalar_type": SCALAR_TYPE_IDS[int(info.dtype())], "sizes": list(info.sizes())}}


def make_input(spec, shape, rng, key, seed):
    """Returns (runtime argument, fixture VALUE)."""
    kind = spec["val_type"]
    val = spec.get("val", {})
    if kind == "Double":
        x = float(val.get("double_val", 0.0))
        return x, {"type": "double", "value": x}
    if kind == "Int":
        x = int(val.get("int_val", 0))
        return x, {"type": "int", "value": x}
    if kind == "Bool":
        x = bool(val.get("bool_val", False))
        return x, {"type": "bool", "value": x}
    if kind == "Null":
        return None, {"type": "none"}
    if kind != "Tensor":
        raise ValueError(f"unsupported input kind {kind}")
    name, tdt = DTYPES[val.get("scalar_type", "BYTE")]
    n = math.prod(shape)
    if n > MAX_STORED:
        if not tdt.is_floating_point:
            raise ValueError("big non-float input")
        offset = float(seed % 1000)
        t = sin_tensor(shape, tdt, offset)
        return t, {"type": "tensor", "dtype": name, "shape": list(shape),
                   "generator": {"kind": "sin", "scale": 0.001, "offset": offset,
                                 "sha256": hashlib.sha256(raw_bytes(t)).hexdigest()}}
    if tdt.is_floating_point:
        t = torch.from_numpy(rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)).to(tdt)
    elif tdt == torch.bool:
        t = torch.from_numpy(rng.integers(0, 2, size=shape).astype(np.bool_))
    else:
        lo, hi = INT_RANGES.get(key, DEFAULT_INT_RANGE)
        t = torch.from_numpy(rng.integers(lo, hi, size=shape).astype(np.int64)).to(tdt)
    return t, tensor_value(t)


def stress_input(v, batch, hidden, ramp):
    """djl-executorch-engine build_input: float32(i) * float32(ramp) + float32(v), all in float32."""
    idx = torch.arange(batch * hidden, dtype=torch.float32)
    flat = idx * torch.tensor(ramp, dtype=torch.float32) + torch.tensor(v, dtype=torch.float32)
    return flat.reshape(batch, hidden)


def golden_check(golden_case, out, stride):
    flat = out.reshape(-1)
    f64 = flat.to(torch.float64)
    got = {"sum": float(f64.sum()), "absSum": float(f64.abs().sum()), "maxAbs": float(f64.abs().max())}
    errs = []
    for k in ("sum", "absSum", "maxAbs"):
        errs.append(abs(got[k] - golden_case[k]) / max(abs(golden_case[k]), 1e-12))
    for i, s in enumerate(golden_case["samples"]):
        errs.append(abs(float(flat[i * stride]) - s) / max(abs(s), 1e-12))
    worst = max(errs)
    return {"maxRelErr": worst, "withinRtol1e-4": worst <= 1e-4}


# --------------------------------------------------------------------------- runner
class Runner:
    """Every call loads a fresh Program (some programs carry mutable state between executes)."""

    def __init__(self):
        self.rt = Runtime.get()

    def _steps(self, pte, ptd, method, args, logs):
        stage = "load_program"
        try:
            progress(f"{method}\tload_program")
            with capture_fd2(logs):
                prog = self.rt.load_program(pte if isinstance(pte, bytes) else Path(pte),
                                            data_path=ptd)
            if method is None:
                return None, prog
            stage = "load_method"
            progress(f"{method}\tload_method")
            with capture_fd2(logs):
                m = prog.load_method(method)
            if args is None:
                return None, m
            stage = "execute"
            progress(f"{method}\texecute")
            with capture_fd2(logs):
                return None, list(m.execute(args))
        except Exception as e:  # noqa: BLE001
            return (stage, e), None

    def load(self, pte, ptd, logs):
        return self._steps(pte, ptd, None, None, logs)

    def check_method(self, pte, ptd, method, logs):
        failure, m = self._steps(pte, ptd, method, None, logs)
        return failure, (m.metadata if m else None)

    def run_case(self, pte, ptd, method, args, logs):
        return self._steps(pte, ptd, method, args, logs)


def err(stage, e, logs):
    return {"stage": stage, "message": f"{type(e).__name__}: {e}", "log": logs[-40:]}


def process_program(runner, rel, pte, ptd, plans, seed, extra_cases=None, generated=True,
                    only_method=None):
    """plans: decoded execution plans (for input specs). Returns (load, methods)."""
    logs = []
    failure, prog = runner.load(pte, ptd, logs)
    if failure:
        e = failure[1]
        return {"ok": False, "error": f"{type(e).__name__}: {e}", "log": logs[-40:]}, {}
    names = sorted(prog.method_names)
    del prog
    load = {"ok": True}
    if logs:
        load["log"] = logs[-40:]
    plan_by_name = {p["name"]: p for p in plans}
    methods = {}
    for mi, name in enumerate(names):
        if only_method is not None and name != only_method:
            continue
        plan = plan_by_name[name]
        rng = np.random.default_rng([seed, mi])
        # Load failures do not depend on inputs: check them first.
        clogs = []
        failure, meta = runner.check_method(pte, ptd, name, clogs)
        if failure:
            methods[name] = {"cases": [], "error": err(failure[0], failure[1], clogs)}
            continue
        values, inputs = plan.get("values", []), plan.get("inputs", [])
        if isinstance(values, list) and isinstance(inputs, list):
            specs = [values[i] for i in inputs]
        else:  # decode trimmed: fall back to the runtime's MethodMeta (tensor inputs only)
            specs = [meta_spec(meta.input_tensor_meta(i)) for i in range(meta.num_inputs())]
        # "random": static / upper-bound shapes. For DYNAMIC_BOUND inputs also "random-smaller"
        # (a shape inside the bound) and "over-bound" (one past the bound on the last dim; the
        # official runtime is expected to reject it at execute/set_inputs).
        shapes0 = [list(s.get("val", {}).get("sizes", [])) for s in specs]
        shape_sets = [({"name": "random" if specs else "no-inputs"}, shapes0)]
        dyn = [s["val_type"] == "Tensor" and bool(s["val"].get("shape_dynamism")) for s in specs]
        if any(dyn):
            small = [SMALL_SHAPES.get((rel, name, pos), [max(1, d // 2) for d in sh]) if d else sh
                     for pos, (sh, d) in enumerate(zip(shapes0, dyn))]
            over = [sh[:-1] + [sh[-1] + 1] if d and sh else sh for sh, d in zip(shapes0, dyn)]
            shape_sets += [({"name": "random-smaller"}, small),
                           ({"name": "over-bound", "expectError": True}, over)]
        todo = []
        for meta, shapes in (shape_sets if generated else []):
            args, vals = [], []
            for pos, (s, sh) in enumerate(zip(specs, shapes)):
                a, v = make_input(s, sh, rng, (rel, name, pos), seed + pos)
                args.append(a)
                vals.append(v)
            todo.append((meta, args, vals))
        todo += (extra_cases or {}).get(name, [])
        cases, error = [], None
        for meta, args, vals in todo:
            meta = dict(meta)
            golden = meta.pop("_golden", None)
            clogs = []
            failure, outs = runner.run_case(pte, ptd, name, args, clogs)
            if failure:
                e = err(failure[0], failure[1], clogs)
                if failure[0] != "execute" and not meta.get("expectError"):
                    error, cases = e, []
                    break  # load failures do not depend on the case
                cases.append({**meta, "inputs": vals, "error": e})
                continue
            case = {**meta, "inputs": vals, "outputs": [to_value(o) for o in outs]}
            if golden:
                case["goldenCheck"] = golden_check(golden[0], outs[0], golden[1])
            cases.append(case)
        if cases and error is None and all("error" in c and not c.get("expectError") for c in cases):
            error = cases[0]["error"]
        methods[name] = {"cases": cases, "error": error}
    return load, methods


def stress_extra(root):
    gold = json.loads((root / STRESS_GOLDEN).read_text())
    cfg = gold["config"]
    extra = []
    for c in gold["cases"]:
        a = stress_input(c["v1"], cfg["batch"], cfg["hidden"], cfg["ramp"])
        b = stress_input(c["v2"], cfg["batch"], cfg["hidden"], cfg["ramp"])
        meta = {"name": f"djl-golden:{c['name']}",
                "note": f"inputs = djl build_input(v1={c['v1']}), build_input(v2={c['v2']})",
                "_golden": (c, gold["sampleStride"])}
        extra.append((meta, [a, b], [tensor_value(a), tensor_value(b)]))
    return {"forward": extra}


def bpte_program(data):
    """Return the embedded ET12 program bytes of a BundledProgram (BP08) flatbuffer."""
    root = struct.unpack_from("<I", data, 0)[0]
    vt = root - struct.unpack_from("<i", data, root)[0]
    vt_len = struct.unpack_from("<H", data, vt)[0]
    slot = 4 + 2 * 2  # field 2: program:[ubyte]
    if slot >= vt_len:
        raise ValueError("no program field")
    off = struct.unpack_from("<H", data, vt + slot)[0]
    pos = root + off
    vec = pos + struct.unpack_from("<I", data, pos)[0]
    n = struct.unpack_from("<I", data, vec)[0]
    return bytes(data[vec + 4: vec + 4 + n])


def decoded_tensor(v):
    val = v["val"]
    tdt = DTYPES[val["scalar_type"]][1]
    raw = bytes(val.get("data", []))
    t = torch.frombuffer(bytearray(raw), dtype=tdt).reshape(val.get("sizes", [])) if raw else \
        torch.zeros(val.get("sizes", []), dtype=tdt)
    return t


def process_bpte(runner, root, rel, decoded_dir, seed, only_method=None):
    data = (root / rel).read_bytes()
    prog_bytes = bpte_program(data)
    dec = json.loads((decoded_dir / (rel[:-5] + ".json")).read_text())
    emb = json.loads((decoded_dir / (rel[:-5] + ".embedded_program.json")).read_text())
    extra = {}
    for suite in dec["method_test_suites"]:
        lst = []
        for i, tc in enumerate(suite["test_cases"]):
            ins = [decoded_tensor(v) for v in tc["inputs"]]
            exp = [decoded_tensor(v) for v in tc["expected_outputs"]]
            meta = {"name": f"bundled:{i}", "bundledExpected": [tensor_value(e) for e in exp]}
            lst.append((meta, ins, [tensor_value(t) for t in ins]))
        extra[suite["method_name"]] = lst
    # Only the bundled test cases are run (no generated case).
    load, methods = process_program(runner, rel, prog_bytes, None, emb["execution_plan"], seed,
                                    extra, generated=False, only_method=only_method)
    for m in methods.values():
        for c in m["cases"]:
            if "outputs" in c:
                c["matchesBundledExpected"] = c["outputs"] == c["bundledExpected"]
    return load, methods, hashlib.sha256(prog_bytes).hexdigest()


def run_file(root, rel, only_method=None):
    """Worker body: everything recorded for one file (except file/sha/versions)."""
    decoded_dir = root / "_decoded"
    runner = Runner()
    seed = seed_for(rel)
    doc = {}
    if rel.endswith(".bpte"):
        load, methods, psha = process_bpte(runner, root, rel, decoded_dir, seed, only_method)
        doc["embeddedProgramSha256"] = psha
        doc["note"] = "BundledProgram: the embedded ET12 program was extracted and run on the bundled test inputs"
    else:
        ptd = find_ptd(root, rel)
        if ptd:
            doc["dataFile"] = ptd
        dec = json.loads((decoded_dir / (rel[:-4] + ".json")).read_text())
        extra = stress_extra(root) if rel == STRESS else None
        load, methods = process_program(runner, rel, str(root / rel), str(root / ptd) if ptd else None,
                                        dec["execution_plan"], seed, extra, only_method=only_method)
    doc["load"], doc["methods"] = load, methods
    return doc


def find_ptd(root, rel):
    cand = EXTRA_PTD.get(rel) or (rel[:-4] + ".ptd")
    return cand if (root / cand).is_file() else None


def method_names_from_decode(root, rel):
    name = rel[:-5] + ".embedded_program.json" if rel.endswith(".bpte") else rel[:-4] + ".json"
    return [p["name"] for p in json.loads((root / "_decoded" / name).read_text())["execution_plan"]]


def run_items(root, items):
    """Run work items [(rel, method or None)] in one child process, restarting it after a crash
    (the QnnBackend segfaults while loading a method). Returns, per item, (result, crash)."""
    results = [None] * len(items)
    start = 0
    with tempfile.TemporaryDirectory() as td:
        while start < len(items):
            batch, prog, log, resdir = (Path(td) / n for n in ("items.json", "progress", "log", "res"))
            resdir.mkdir(exist_ok=True)
            batch.write_text(json.dumps([[i, *items[i]] for i in range(start, len(items))]))
            prog.write_text("")
            p = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(root),
                                "--worker", str(batch), "--result", str(resdir),
                                "--progress", str(prog), "--log", str(log)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(start, len(items)):
                f = resdir / f"{i}.json"
                if f.is_file():
                    results[i] = (json.loads(f.read_text()), None)
            if p.returncode == 0:
                break
            lines = [l.split("\t") for l in prog.read_text().splitlines()]
            if not lines:
                raise RuntimeError(f"worker failed before any work:\n{p.stderr[-3000:]}")
            k, method, stage = int(lines[-1][0]), lines[-1][1], lines[-1][2]
            why = (f"process killed by signal {-p.returncode} ({signal.Signals(-p.returncode).name})"
                   if p.returncode < 0 else f"process exited with status {p.returncode}")
            tail = (clean_log(log.read_text(errors="replace")) if log.is_file() else []) \
                + clean_log(p.stderr)[-5:]
            results[k] = (None, {"method": None if method == "None" else method, "stage": stage,
                                 "message": f"crash: {why}", "log": tail[-40:]})
            start = k + 1
    return results


def worker(root, batch_path, resdir):
    global CURRENT_ITEM
    for i, rel, method in json.loads(Path(batch_path).read_text()):
        CURRENT_ITEM = i
        doc = run_file(root, rel, method)
        (Path(resdir) / f"{i}.json").write_text(json.dumps(doc))


def main():
    global LOG_PATH, PROGRESS_PATH
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=os.environ.get(
        "PTE_WILD_DIR", str(HERE / "../../../shared/fixtures/pte-wild")))
    ap.add_argument("--out", default=str(HERE / "../../test/fixtures/official"))
    ap.add_argument("--only", default=None, help="substring filter on relative paths (debug)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--progress", help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    args = ap.parse_args()
    root = Path(args.root).resolve()
    if args.worker:
        LOG_PATH, PROGRESS_PATH = args.log, args.progress
        worker(root, args.worker, args.result)
        return

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    et_ver, torch_ver = pkg_version("executorch"), pkg_version("torch")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not p.relative_to(root).parts[0].startswith("_")
                   and p.suffix in (".pte", ".ptd", ".bpte", ".etdp"))
    files = [rel for rel in files if not args.only or args.only in rel]
    ptd_users = {}
    for rel in files:
        if rel.endswith(".pte") and find_ptd(root, rel):
            ptd_users.setdefault(find_ptd(root, rel), []).append(rel)
    programs = [rel for rel in files if rel.endswith((".pte", ".bpte"))]
    results = dict(zip(programs, run_items(root, [(rel, None) for rel in programs])))
    index = []
    for rel in files:
        entry = {"file": rel}
        index.append(entry)
        if rel.endswith(".ptd"):
            users = ", ".join(ptd_users.get(rel, ["nothing"]))
            entry["status"] = f"skipped: data file (passed as data_path to {users})"
            continue
        if rel.endswith(".etdp"):
            entry["status"] = "skipped: not a program (ETDump)"
            continue
        doc = {"file": rel, "sha256": hashlib.sha256((root / rel).read_bytes()).hexdigest(),
               "executorch": et_ver, "torch": torch_ver, "seed": seed_for(rel)}
        res, crash = results[rel]
        if crash and crash["method"] is None:
            res = {"load": {"ok": False, "error": crash["message"], "log": crash["log"]}, "methods": {}}
        elif crash:  # redo method by method so that one crashing method does not hide the others
            names = sorted(method_names_from_decode(root, rel))
            res, methods = None, {}
            for name, (r, c) in zip(names, run_items(root, [(rel, n) for n in names])):
                if r:
                    res = res or r
                    methods.update(r["methods"])
                else:
                    methods[name] = {"cases": [], "error": {k: c[k] for k in ("stage", "message", "log")}}
            res = res or {"load": {"ok": True}}
            res["methods"] = methods
        doc.update(res)
        doc["methods"] = dict(sorted(doc["methods"].items()))
        out_name = rel[:-len(Path(rel).suffix)].replace("/", "__") + ".json"
        (out / out_name).write_text(json.dumps(doc, indent=1) + "\n")
        entry["output"] = out_name
        entry["status"] = status_line(doc)
        print(f"{rel}\n    {entry['status']}", flush=True)
    if not args.only:
        (out / "INDEX.json").write_text(json.dumps({
            "executorch": et_ver, "torch": torch_ver,
            "generator": "tools/interop/make_official_outputs.py (see tools/interop/README.md)",
            "fixtures": index}, indent=1) + "\n")


def reason(e):
    """One-line cause of a failure, preferring the runtime's own log."""
    log = e.get("log") or []
    missing = sorted({l.split("Missing operator: ")[1].split("] ", 1)[-1]
                      for l in log if "Missing operator: " in l})
    if missing:
        return "missing operators: " + ", ".join(missing)
    return (log or [e.get("message") or e.get("error")])[-1][:200]


def status_line(doc):
    load, methods = doc["load"], doc["methods"]
    if not load["ok"]:
        return f"failed at load_program: {reason(load)}"
    bad = {n: m["error"] for n, m in methods.items() if m["error"]}
    case_bad = [n for n, m in methods.items()
                if any(("error" in c) != bool(c.get("expectError")) for c in m["cases"])]
    prefix = "BundledProgram, embedded program " if doc["file"].endswith(".bpte") else ""
    if not bad and not case_bad:
        return f"{prefix}ran ({len(methods)} method(s))"
    if len(bad) == len(methods):
        stages = sorted({b["stage"] for b in bad.values()})
        return f"{prefix}failed at {'/'.join(stages)}: {reason(next(iter(bad.values())))}"
    failed = ", ".join(f"{n} ({b['stage']}: {b['message'][:60]})" for n, b in bad.items())
    return (f"{prefix}partly ran: {len(methods) - len(bad)}/{len(methods)} methods ran"
            + (f"; failed: {failed}" if bad else "")
            + (f"; case errors in {', '.join(case_bad)}" if case_bad else ""))


if __name__ == "__main__":
    main()
