#!/usr/bin/env python3
"""Sanity checks on the fixtures written by make_official_outputs.py (needs numpy only).

Usage: check_official_outputs.py [FIXTURE_DIR]   (default ../../test/fixtures/official)
"""
import base64
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
D = Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "../../test/fixtures/official").resolve()
NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64,
      "int32": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8,
      "uint16": np.uint16, "bool": np.bool_}
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def arr(v):
    if v["type"] != "tensor":
        return v.get("value")
    if "data" in v:
        return np.frombuffer(base64.b64decode(v["data"]), NP[v["dtype"]]).reshape(v["shape"])
    g = v["generator"]  # the documented "sin" generator
    n = math.prod(v["shape"])
    x = np.array([math.sin(i * g["scale"] + g["offset"]) for i in range(n)], np.float64)
    x = x.astype(NP[v["dtype"]])
    check(hashlib.sha256(x.tobytes()).hexdigest() == g["sha256"], f"sin generator reproduces {v['shape']}")
    return x.reshape(v["shape"])


def cases(name, method="forward"):
    doc = json.loads((D / (name + ".json")).read_text())
    return [c for c in doc["methods"][method]["cases"] if "outputs" in c]


def io(c):
    return [arr(v) for v in c["inputs"]], [arr(v) for v in c["outputs"]]


for name in ["corey-cole__djl-executorch-engine__native__spike__add@666f8c355f",
             "corey-cole__djl-executorch-engine__native__spike__add_unplanned@3c26ad68eb",
             "corey-cole__executorch-numpy-runtime__tests__models__add@64ef056adf",
             "kadu-v__berry-executorch__resource__model__add@dcc914635c",
             "pytorch__executorch__add@4276646290",
             "pytorch__executorch__extension__module__test__resources__add@0da16dfb5e"]:
    (a, b), (o,) = io(cases(name)[0])
    check(np.array_equal(o, a + b), f"{name}: out == a + b")

(x,), (o,) = io(cases("kadu-v__berry-executorch__resource__model__id@dcc914635c")[0])
check(np.array_equal(o, x), "id.pte: out == x")
(x,), (o,) = io(cases("kadu-v__berry-executorch__resource__model__two@dcc914635c")[0])
check(np.array_equal(o, x + x), "two.pte: out == x + x")
(x, s), (o,) = io(cases("corey-cole__djl-executorch-engine__native__spike__prim_input@94c8174c30")[0])
check(s == 2.0 and np.array_equal(o, x * np.float32(2.0)), "prim_input: Double 2.0 passed, out == 2x")
(a, b), (o1, o2) = io(cases("corey-cole__djl-executorch-engine__native__spike__dtypes@e89d8dfefd")[0])
check(o1.dtype == np.int64 and np.array_equal(o1, a + a) and np.array_equal(o2, b + b), "dtypes: x + x per dtype")
(p, q), (o,) = io(cases("corey-cole__djl-executorch-engine__src__test__resources__models__named__priced@a72213c387")[0])
check(np.array_equal(o, p * q.astype(np.float32)), "priced: out == price * float(qty)")

cm = "corey-cole__executorch-numpy-runtime__tests__models__const_methods@51e19fab88"
got = [cases(cm, m)[0]["outputs"][0] for m in ("get_scalar", "get_double", "get_bool", "get_tensor")]
check(got[0] == {"type": "int", "value": 128} and got[1] == {"type": "double", "value": 2.5}
      and got[2] == {"type": "bool", "value": True} and got[3]["dtype"] == "int64"
      and arr(got[3]).tolist() == [1, 2, 3], "const_methods: 128, 2.5, true, int64[1,2,3]")

dyn = json.loads((D / "corey-cole__executorch-numpy-runtime__tests__models__dynamic@3a558b1ebe.json").read_text())
dc = dyn["methods"]["forward"]["cases"]
check([c["inputs"][0]["shape"] for c in dc] == [[8], [5], [9]], "dynamic: shapes 8, 5, 9(over bound)")
check(all(np.array_equal(io(c)[1][0], io(c)[0][0] * 2) for c in dc[:2]), "dynamic: out == 2x")
check("error" in dc[2] and dc[2]["error"]["stage"] == "execute", "dynamic: over-bound rejected at execute")

(x,), (o,) = io(cases("dinusha94__executorch__models__softmax@ae136a62f7")[0])
check(np.allclose(o.sum(axis=0), 1, atol=1e-6), "softmax [2,2]: columns sum to 1")
(x,), (o,) = io(cases("pytorch__executorch__operator_and_model_testing__softmax__pte__softmax@5bc4c1dbaa")[0])
check(np.allclose(o.sum(axis=-1), 1, atol=1e-5), "softmax [2,4096]: rows sum to 1")

c = cases("corey-cole__djl-executorch-engine__native__spike__med_output@40f286cea7")[0]
x = arr(c["inputs"][0])[0]
sm = c["outputs"][0]["summary"]
samples = np.frombuffer(base64.b64decode(sm["samples"]), np.float32)
check(len(samples) == 4096 and (samples == x).all() and sm["sum"] == float(x) * 134217728,
      "med_output: expand of x to 134217728 elements (summary)")

st = cases("corey-cole__djl-executorch-engine__src__test__resources__models__stress__stress_mlp@6d3450d6d3")
gold = [c for c in st if c.get("name", "").startswith("djl-golden:")]
check(len(gold) == 8 and all(c["goldenCheck"]["withinRtol1e-4"] for c in gold),
      f"stress_mlp: 8 djl golden cases reproduced (max rel err {max(c['goldenCheck']['maxRelErr'] for c in gold)})")

bp = cases("pytorch__executorch__extension__module__test__resources__bundled_program@6a9ccf1882")
check(len(bp) == 10 and all(c["matchesBundledExpected"] for c in bp), "bundled_program: 10 cases match")

for f in sorted(D.glob("*.json")):  # every generated ("sin") input must be reproducible
    for m in json.loads(f.read_text()).get("methods", {}).values():
        for c in m["cases"]:
            for v in c["inputs"]:
                if "generator" in v:
                    arr(v)

index = json.loads((D / "INDEX.json").read_text())
check(all((D / e["output"]).is_file() for e in index["fixtures"] if "output" in e), "INDEX outputs exist")
size = sum(f.stat().st_size for f in D.iterdir())
check(size < 8 * 1024 * 1024, f"total size {size} bytes < 8 MB")
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
