#!/usr/bin/env python3
"""Small torch modules exported with the OFFICIAL XNNPACK partitioner, one or more XNNPACK
node types each, run with the OFFICIAL ExecuTorch runtime: the per-node-type reference
fixtures of test/xnnpack-nodes.test.ts.

Usage: make_node_fixtures.py [--out OUT_DIR] [--only NAME_SUBSTRING]
  OUT_DIR defaults to ../../../test/fixtures/xnnpack-nodes (relative to this script).

For every module it:
  1. exports with torch.export (optionally with a bounded dynamic dim), optionally after
     static PT2E int8 quantization (XNNPACKQuantizer), then
     to_edge_transform_and_lower(partitioner=[XnnpackPartitioner(...)]) and to_executorch();
  2. decodes every XnnpackBackend payload (XH00 header + XNNGraph flatbuffer, turned into JSON
     by flatc with the schema.fbs the executorch wheel ships) and FAILS unless the node types
     the module is meant to exercise are all there and nothing but the allowed ops stayed
     outside the delegates;
  3. runs the program with executorch.runtime on seeded inputs (a freshly loaded program per
     case) and writes <name>.pte and <name>.json (the layout of tools/interop/
     make_official_outputs.py, plus the decoded node types, see README.md);
  4. exports a few PROBES (modules that would need ArgMaxPooling2d, ELU,
     ScaledDotProductAttention, Convert between float types, bf16 without opting in, ...)
     and records what the toolchain made of them in INDEX.json (evidence for the node
     types no official export contains).
The output is deterministic for a given set of package versions.
"""
import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from importlib.metadata import version as pkg_version
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from make_official_outputs import capture_fd2, seed_for, to_value  # noqa: E402

import executorch.backends.xnnpack.serialization as xnn_serialization  # noqa: E402
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner  # noqa: E402
from executorch.exir import to_edge_transform_and_lower  # noqa: E402
from executorch.exir.lowered_backend_module import LoweredBackendModule  # noqa: E402
from executorch.runtime import Runtime  # noqa: E402

SCHEMA = Path(list(xnn_serialization.__path__)[0]) / "schema.fbs"
DEFAULT_OUT = HERE.parent.parent.parent / "test" / "fixtures" / "xnnpack-nodes"
MAX_FILE = 200 * 1024
MAX_TOTAL = 3 * 1024 * 1024
# Ops that may stay outside the delegates: the dim-order copy the partitioner leaves at a
# delegate's output when a clone/contiguous sits there (a no-op copy).
ALLOWED_OUTSIDE = {"dim_order_ops._to_dim_order_copy.default"}


# --------------------------------------------------------------------------- payload decoding
def decode_payload(payload: bytes) -> dict:
    """XnnpackBackend payload -> the XNNGraph as a dict (flatc --json with the wheel's schema)."""
    if payload[4:8] == b"XH00":
        off = int.from_bytes(payload[10:14], "little")
        size = int.from_bytes(payload[14:18], "little")
        fb = payload[off:off + size]
    else:
        fb = payload
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "graph.bin"
        p.write_bytes(fb)
        subprocess.run(["flatc", "--json", "--strict-json", "--raw-binary", "--defaults-json", "-o", d,
                        str(SCHEMA), "--", str(p)], check=True, capture_output=True)
        text = (Path(d) / "graph.json").read_text()
    # flatc writes non-finite floats bare (output_min: -inf); make them JSON strings.
    text = re.sub(r":\s*(-?)(inf|nan)\b", lambda m: f': "{m.group(1)}{m.group(2)}"', text)
    return json.loads(text)


def value_dtype(v: dict) -> str:
    u = v["xvalue_union"]
    tv = u.get("tensor_value", u)
    return tv["datatype"].replace("xnn_datatype_", "")


def describe_graph(g: dict) -> dict:
    nodes = {}
    for x in g["xnodes"]:
        t = x["xnode_union_type"].replace("XNN", "", 1)
        nodes[t] = nodes.get(t, 0) + 1
    dtypes = {}
    for v in g["xvalues"]:
        d = value_dtype(v)
        dtypes[d] = dtypes.get(d, 0) + 1
    fused = sum(1 for x in g["xnodes"] if x.get("output_min_max"))
    return {"nodes": dict(sorted(nodes.items())), "datatypes": dict(sorted(dtypes.items())),
            "values": len(g["xvalues"]), "nodesWithOutputMinMax": fused}


def output_quant_scales(g: dict) -> list:
    """Per external output (in external-id order): the scale of the qint8 value its Convert
    dequantizes (one quantization step of that output), or None for a float output."""
    by_id = {}
    for v in g["xvalues"]:
        u = v["xvalue_union"]
        by_id[u.get("tensor_value", u)["id_out"]] = v
    outputs = sorted((u.get("tensor_value", u)["external_id"], u.get("tensor_value", u)["id_out"])
                     for u in (v["xvalue_union"] for v in g["xvalues"]) if u.get("tensor_value", u)["flags"] & 2)
    scales = []
    for _, vid in outputs:
        scale = None
        for x in g["xnodes"]:
            if x["xnode_union_type"] == "XNNConvert" and x["xnode_union"]["output_id"] == vid:
                src = by_id[x["xnode_union"]["input_id"]]["xvalue_union"]
                if src.get("quant_params_type") == "PerTensorQuant":
                    scale = src["quant_params"]["scale"]
        scales.append(scale)
    return scales


def method_output_scales(edge, graphs) -> list:
    """output_quant_scales of the (single) delegate, in the order of the method's outputs."""
    if len(graphs) != 1:
        raise SystemExit("int8 fixtures must lower to one delegate")
    per_delegate_output = output_quant_scales(graphs[0])
    gm = edge.exported_program().graph_module
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    scales = []
    for arg in out_node.args[0]:
        if not (arg.op == "call_function" and "getitem" in str(arg.target)):
            raise SystemExit(f"method output {arg} is not a delegate output")
        scales.append(per_delegate_output[arg.args[1]])
    return scales


def lower(model, args, dynamic_shapes=None, partitioner_kwargs=None):
    ep = torch.export.export(model, args, dynamic_shapes=dynamic_shapes)
    edge = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner(**(partitioner_kwargs or {}))])
    gm = edge.exported_program().graph_module
    graphs = [decode_payload(m.processed_bytes) for _, m in gm.named_children()
              if isinstance(m, LoweredBackendModule)]
    outside = sorted({str(n.target).split(": schema")[0].replace("<EdgeOpOverload: ", "").strip(">").strip()
                      for n in gm.graph.nodes
                      if n.op == "call_function" and "executorch_call_delegate" not in str(n.target)
                      and "getitem" not in str(n.target)})
    return edge, graphs, outside


# --------------------------------------------------------------------------- modules
class Binary(nn.Module):
    """Add/Subtract/Multiply/Div/Minimum/Maximum with numpy broadcasting, fused and plain clamps."""

    def forward(self, a, b, c):
        return (a + b, a - c, b - a, a * b, a / c, torch.minimum(a, b), torch.maximum(a, c),
                torch.relu(a + c),             # Add with a fused output range [0, inf]
                (a * b).clamp(-0.5, 0.5),      # Multiply, then Clamp
                F.hardtanh(b - a, -1.0, 0.25)) # Subtract with a fused [-1, 0.25]


class Unary(nn.Module):
    """The one-input math nodes (x: any sign; p: positive, for log/sqrt/rsqrt)."""

    def forward(self, x, p):
        return (torch.relu(x), F.relu6(x), F.hardtanh(x, -0.5, 0.7), x.clamp(min=-0.3), x.clamp(-1.2, 0.4),
                torch.sigmoid(x), torch.tanh(x), torch.exp(x), torch.log(p), torch.sin(x), torch.cos(x),
                F.gelu(x), F.gelu(x, approximate="tanh"), F.hardswish(x), F.leaky_relu(x, 0.07),
                torch.abs(x), torch.neg(x), x ** 2, torch.sqrt(p), torch.rsqrt(p),
                torch.floor(x), torch.ceil(x), torch.softmax(x, -1))


class PreluBmmCopy(nn.Module):
    def __init__(self):
        super().__init__()
        self.prelu_c = nn.PReLU(4)
        self.prelu_1 = nn.PReLU()
        with torch.no_grad():
            self.prelu_c.weight.copy_(torch.tensor([0.1, -0.2, 0.3, 0.05]))
            self.prelu_1.weight.fill_(0.15)

    def forward(self, x, a, b, bt):
        return (self.prelu_c(x), self.prelu_1(x * 2.0), torch.bmm(a, b),
                torch.bmm(a, bt.transpose(1, 2)),  # the partitioner may fold the transpose
                x.clone())


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 12)
        self.fc2 = nn.Linear(12, 8, bias=False)
        self.fc3 = nn.Linear(8, 5)

    def forward(self, x):
        h = torch.relu(self.fc1(x))      # FullyConnected with bias (fused ReLU)
        h = self.fc2(h)                  # FullyConnected without bias
        return self.fc3(h.reshape(-1, 8)), h


class ConvPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1)
        self.gconv = nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=2)
        self.dw = nn.Conv2d(6, 12, 3, padding=1, groups=6)      # depthwise, multiplier 2
        self.bn = nn.BatchNorm2d(12)
        self.convt = nn.ConvTranspose2d(12, 4, 3, stride=2, padding=1, output_padding=1)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.2, 0.2)
            self.bn.running_var.uniform_(0.5, 1.5)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        a = self.conv(x)                                  # [1, 6, 5, 5]
        b = torch.relu(self.gconv(a))                     # grouped, dilated, fused relu
        c = self.bn(self.dw(b))                           # depthwise with folded batch norm
        d = self.convt(c)                                 # [1, 4, 10, 10]
        return (d,
                F.max_pool2d(c, 3, 2, padding=1),
                F.max_pool2d(d, 2, 2),
                F.avg_pool2d(d, 2, 2),
                F.avg_pool2d(c, 3, 1, padding=1, count_include_pad=False),
                c.mean((-1, -2), keepdim=True),
                F.adaptive_avg_pool2d(d, 1),
                F.interpolate(c, scale_factor=2, mode="bilinear"),
                F.interpolate(a, size=(7, 9), mode="bilinear", align_corners=True))


class ConvTranspose(nn.Module):
    def __init__(self):
        super().__init__()
        self.t1 = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.t2 = nn.ConvTranspose2d(4, 5, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1), bias=False)
        self.t3 = nn.ConvTranspose2d(4, 3, 3, stride=3, output_padding=2)
        self.t4 = nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1, groups=4)  # depthwise-like (groups = channels)

    def forward(self, x):
        return self.t1(x), self.t2(x), torch.relu(self.t3(x)), self.t4(x).clamp(-0.25, 0.25)


class ConvTransposeWideAdjust(nn.Module):
    """output_padding >= stride (PyTorch allows it below the dilation): delegated, but the
    official runtime fails to execute it (XNNPACK refuses the adjustment)."""

    def __init__(self):
        super().__init__()
        self.t = nn.ConvTranspose2d(4, 3, 3, stride=1, padding=1, dilation=3, output_padding=2)

    def forward(self, x):
        return self.t(x)


class Movement(nn.Module):
    def forward(self, x, y):
        a = x * 2.0
        b = y + 1.0
        return (a.permute(0, 2, 3, 1),
                a.reshape(2, 60),
                a[:, 1:, :3, 2:4],
                F.pad(a, (1, 2, 0, 1), value=0.5),
                F.pad(a, (0, 0, 2, 1, 1, 0), value=-1.0),
                torch.cat([a, b], 1),
                torch.cat([a, b, a], 3),
                torch.cat([a, b, a, b], 0),
                torch.cat([a, b, a, b, a], 2),
                torch.max(a, 3, keepdim=True)[0])


class ConvLinearQ(nn.Module):
    """Conv + ReLU, depthwise conv, add, max pool, slice + cat, linear, global average pooling:
    quantized with XNNPACKQuantizer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, groups=8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x):
        a = torch.relu(self.conv(x))
        a = self.dw(a) + 1.0
        a = self.pool(a)
        b = torch.cat([a[:, 4:], a[:, :4]], 1)
        return self.fc(b.flatten(1)), F.adaptive_avg_pool2d(a, 1)


class HalfMix(nn.Module):
    """What fp16 exports delegate: conv, deconv, linear, pooling, math, movement in float16."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, groups=8)
        self.convt = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fc = nn.Linear(8, 6)

    def forward(self, x, y, a, b):
        c = torch.relu(self.conv(x))                      # [1, 8, 6, 6]
        d = self.dw(c)                                    # [1, 8, 4, 4]
        e = self.convt(d)                                 # [1, 4, 8, 8]
        f = self.fc(y)                                    # [2, 6]
        g = f * 0.5 + y[..., :6]
        return (e, F.max_pool2d(c, 2), F.avg_pool2d(c, 2), c.mean((-1, -2), keepdim=True),
                F.interpolate(d, scale_factor=2, mode="bilinear"),
                torch.sigmoid(g), torch.tanh(g), torch.softmax(g, -1), torch.exp(g.clamp(-2, 2)),
                torch.bmm(a, b), torch.cat([g, f], 1), g.permute(1, 0), F.hardswish(g), F.leaky_relu(g, 0.1),
                torch.sqrt(torch.abs(g)), torch.minimum(f, g), f / (g.abs() + 1.0))


class Bf16Mix(nn.Module):
    """What the partitioner delegates in bfloat16 with enable_bf16=True and the runtime runs."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 6)
        self.fc2 = nn.Linear(6, 4, bias=False)

    def forward(self, x, y):
        h = torch.relu(self.fc1(x))
        return self.fc2(h), h * y + x[:, :6], torch.sigmoid(h), h.permute(1, 0)


# --------------------------------------------------------------------------- fixture specs
def randn(g, *shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(*shape, generator=g) * scale).to(dtype)


def positive(g, *shape, dtype=torch.float32):
    return (torch.rand(*shape, generator=g) * 2.0 + 0.05).to(dtype)


def quantize_pt2e(model, example, per_channel, calib_gen):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    gm = torch.export.export(model, example).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=per_channel))
    prepared = prepare_pt2e(gm, quantizer)
    for _ in range(8):
        prepared(*[torch.randn(t.shape, generator=calib_gen) for t in example])
    return convert_pt2e(prepared)


FIXTURES = []


def fixture(name, precision, expect, description, official=True):
    def deco(fn):
        FIXTURES.append({"name": name, "precision": precision, "expect": set(expect),
                         "description": description, "make": fn, "official": official})
        return fn
    return deco


@fixture("binary_broadcast", "float32",
         ["Add", "Subtract", "Multiply", "Div", "Minimum", "Maximum", "Clamp"],
         "Add/Subtract/Multiply/Div/Minimum/Maximum with broadcasting ([2,3,4,5] with [4,5] and [1,3,1,5], "
         "both operand orders), fused output ranges (ReLU, hardtanh) and a separate Clamp")
def _binary(g):
    args = (randn(g, 2, 3, 4, 5), randn(g, 4, 5), positive(g, 1, 3, 1, 5))
    return Binary(), [("seeded", args)], {}


@fixture("unary_math", "float32",
         ["Clamp", "Sigmoid", "Tanh", "Exp", "Log", "Sin", "Cos", "Gelu", "Hardswish", "LeakyReLU", "Abs",
          "Negate", "Square", "SquareRoot", "ReciprocalSquareRoot", "Floor", "Ceiling", "Softmax"],
         "ReLU/ReLU6/hardtanh/clamp (Clamp), sigmoid, tanh, exp, log, sin, cos, gelu (erf and tanh-approximate, "
         "both lowered to Gelu), hardswish, leaky ReLU, abs, neg, square (x**2), sqrt, rsqrt, floor, ceil, softmax")
def _unary(g):
    args = (randn(g, 2, 3, 4, 5, scale=2.5), positive(g, 2, 3, 4, 5))
    return Unary(), [("seeded", args)], {}


@fixture("prelu_bmm_copy", "float32", ["PReLU", "BatchMatrixMultiply", "Copy", "Multiply"],
         "PReLU with 4 channel slopes and with one slope, batched matmul (plain and with a transposed operand), "
         "clone of an input (Copy)")
def _prelu(g):
    args = (randn(g, 2, 4, 3, 5), randn(g, 3, 4, 6), randn(g, 3, 6, 5), randn(g, 3, 5, 6))
    return PreluBmmCopy(), [("seeded", args)], {}


@fixture("linear_dynamic", "float32", ["FullyConnected", "StaticReshape"],
         "FullyConnected with bias (fused ReLU) and without, 3-D and 2-D inputs, the batch dim dynamic "
         "(Dim 1..8): cases with batch 3 (export example), 1, 8 and 5")
def _linear(g):
    from torch.export import Dim
    model = Linear()
    cases = [(f"batch{b}", (randn(g, b, 2, 16),)) for b in (3, 1, 8, 5)]
    return model, cases, {"dynamic_shapes": ({0: Dim("batch", min=1, max=8)},)}


@fixture("conv_pool", "float32",
         ["Conv2d", "DepthwiseConv2d", "ConvTranspose2d", "MaxPooling2d", "AvgPooling2d", "GlobalAvgPooling2d",
          "StaticResizeBilinear2D", "StaticTranspose"],
         "Conv2d (stride 2; grouped, dilated, fused ReLU), depthwise Conv2d (multiplier 2, folded batch norm), "
         "ConvTranspose2d, max/avg pooling with padding, mean and adaptive average pooling (GlobalAvgPooling2d), "
         "bilinear upsampling (align_corners False and True)")
def _conv(g):
    return ConvPool(), [("seeded", (randn(g, 1, 4, 10, 10),))], {}


@fixture("conv_transpose", "float32", ["ConvTranspose2d", "StaticTranspose"],
         "ConvTranspose2d: groups 2 with output_padding, non-square kernel with dilation and no bias, "
         "stride 3 with output_padding 2 and fused ReLU, depthwise-like groups = channels with a clamp")
def _convt(g):
    return ConvTranspose(), [("seeded", (randn(g, 2, 4, 5, 6),))], {}


@fixture("conv_transpose_wide_adjust", "float32", ["ConvTranspose2d", "StaticTranspose"],
         "ConvTranspose2d with stride 1, dilation 3, output_padding 2: the partitioner delegates it, the official "
         "runtime fails to execute it, so the reference outputs are PyTorch eager's", official=False)
def _convt_wide(g):
    return ConvTransposeWideAdjust(), [("seeded", (randn(g, 1, 4, 5, 6),))], {}


@fixture("movement", "float32",
         ["StaticTranspose", "StaticReshape", "StaticSlice", "StaticConstantPad", "Concatenate2", "Concatenate3",
          "Concatenate4", "Concatenate5", "MaxPooling2d"],
         "permute, reshape, slice, constant pad (2 and 3 dims), cat of 2, 3, 4 and 5 tensors, "
         "max over a dim (lowered to MaxPooling2d)")
def _movement(g):
    return Movement(), [("seeded", (randn(g, 2, 3, 4, 5), randn(g, 2, 3, 4, 5)))], {}


def _quant(g, per_channel):
    model = ConvLinearQ().eval()
    example = (randn(g, 2, 3, 14, 14),)
    q = quantize_pt2e(model, example, per_channel, g)
    cases = [("seeded", (randn(g, 2, 3, 14, 14),)), ("seeded2", (randn(g, 2, 3, 14, 14, scale=1.5),))]
    return q, cases, {}


@fixture("quant_per_tensor", "int8",
         ["Convert", "Conv2d", "DepthwiseConv2d", "Add", "MaxPooling2d", "StaticSlice", "Concatenate2",
          "StaticTranspose", "StaticReshape", "FullyConnected", "GlobalAvgPooling2d"],
         "static PT2E int8 (XNNPACKQuantizer, symmetric, per-tensor weights): Convert fp32<->qint8, "
         "conv + ReLU, depthwise conv, add of a constant, max pool, slice + cat, linear, adaptive average "
         "pooling (GlobalAvgPooling2d), all on qint8 values")
def _qpt(g):
    return _quant(g, False)


@fixture("quant_per_channel", "int8",
         ["Convert", "Conv2d", "DepthwiseConv2d", "Add", "MaxPooling2d", "StaticSlice", "Concatenate2",
          "StaticTranspose", "StaticReshape", "FullyConnected", "GlobalAvgPooling2d"],
         "static PT2E int8 with per-channel symmetric weights (qcint8 filters, qcint32 biases), same model")
def _qpc(g):
    return _quant(g, True)


@fixture("fp16_mix", "float16",
         ["Conv2d", "DepthwiseConv2d", "ConvTranspose2d", "FullyConnected", "MaxPooling2d", "AvgPooling2d",
          "GlobalAvgPooling2d", "StaticResizeBilinear2D", "Sigmoid", "Tanh", "Softmax", "Exp", "Clamp",
          "BatchMatrixMultiply", "Concatenate2", "StaticTranspose", "StaticSlice", "Hardswish", "LeakyReLU",
          "SquareRoot", "Abs", "Minimum", "Div", "Add", "Multiply"],
         "model.half(): fp16 values (conv filters and biases stay fp32, as the partitioner forces)")
def _fp16(g):
    h = torch.float16
    model = HalfMix().to(h)
    args = (randn(g, 1, 3, 6, 6, dtype=h), randn(g, 2, 8, dtype=h), randn(g, 3, 4, 5, dtype=h),
            randn(g, 3, 5, 6, dtype=h))
    return model, [("seeded", args)], {}


@fixture("bf16_mix", "bfloat16", ["FullyConnected", "Multiply", "Add", "Sigmoid", "StaticTranspose",
                                  "StaticSlice"],
         "model.to(bfloat16) with XnnpackPartitioner(enable_bf16=True) (bf16 is not delegated by default): "
         "linears (bf16 x bf16 -> fp32 bias; the ReLU fused as an output range), mul, add, sigmoid, permute")
def _bf16(g):
    b = torch.bfloat16
    model = Bf16Mix().to(b)
    return model, [("seeded", (randn(g, 2, 8, dtype=b), randn(g, 2, 6, dtype=b)))], {"partitioner": {"enable_bf16": True}}


# --------------------------------------------------------------------------- probes
class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *x):
        return self.fn(*x)


def probes():
    x = torch.randn(1, 4, 6, 6)
    q = torch.randn(1, 2, 4, 8)
    yield ("ArgMaxPooling2d", "torch.max(x, dim=3, keepdim=True) returning values and indices",
           _Fn(lambda t: tuple(torch.max(t, 3, keepdim=True))), (x,), {})
    yield ("ArgMaxPooling2d", "nn.MaxPool2d(2, return_indices=True)",
           nn.MaxPool2d(2, return_indices=True), (x,), {})
    yield ("ArgMaxPooling2d", "torch.max(x, dim=3, keepdim=True)[0] (values only)",
           _Fn(lambda t: torch.max(t, 3, keepdim=True)[0]), (x,), {})
    yield ("ELU", "F.elu(x * 2)", _Fn(lambda t: F.elu(t * 2.0)), (x,), {})
    yield ("ScaledDotProductAttention", "F.scaled_dot_product_attention(q, k, v)",
           _Fn(lambda a, b, c: F.scaled_dot_product_attention(a, b, c)), (q, q * 0.5, q + 1.0), {})
    yield ("ScaledDotProductAttention", "F.scaled_dot_product_attention(q, k, v, attn_mask=m)",
           _Fn(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m)),
           (q, q * 0.5, q + 1.0, torch.zeros(4, 4)), {})
    yield ("Convert", "(x * 2).to(float16) (a float dtype conversion)",
           _Fn(lambda t: (t * 2.0).to(torch.float16) * 3.0), (x,), {})
    yield ("Copy", "(x * 2).clone() (a clone inside a partition)", _Fn(lambda t: (t * 2.0).clone() + 1.0), (x,), {})
    yield ("bf16", "nn.Linear(8, 6).to(bfloat16) with the default partitioner",
           nn.Linear(8, 6).to(torch.bfloat16), (torch.randn(2, 8).to(torch.bfloat16),), {})
    yield ("bf16", "bf16 Conv2d with enable_bf16=True (delegated, then refused by the official runtime)",
           nn.Conv2d(3, 4, 3).to(torch.bfloat16), (torch.randn(1, 3, 6, 6).to(torch.bfloat16),),
           {"enable_bf16": True})
    yield ("fp16 Gelu", "F.gelu on float16", _Fn(lambda t: F.gelu(t * 2.0)), (x.half(),), {})


def run_probe(node, what, model, args, kw):
    entry = {"node": node, "module": what}
    try:
        edge, graphs, outside = lower(model, args, partitioner_kwargs=kw)
        entry["delegated"] = [describe_graph(g)["nodes"] for g in graphs]
        entry["outsideDelegate"] = outside
        try:
            prog = Runtime.get().load_program(edge.to_executorch().buffer)
            logs = []
            with capture_fd2(logs):
                prog.load_method("forward").execute(list(args))
            entry["officialRuntime"] = "ok"
        except Exception as e:  # noqa: BLE001
            entry["officialRuntime"] = f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001
        entry["exportError"] = f"{type(e).__name__}: {str(e)[:300]}"
    return entry


# --------------------------------------------------------------------------- main
def versions():
    import executorch.version as ev
    return {"executorch": pkg_version("executorch"), "executorchGit": getattr(ev, "git_version", None),
            "torch": torch.__version__.split("+")[0], "torchao": pkg_version("torchao"),
            "python": sys.version.split()[0], "flatc": subprocess.run(["flatc", "--version"], capture_output=True,
                                                                      text=True).stdout.strip()}


def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def make_fixture(spec, out_dir, vers):
    name = spec["name"]
    seed = seed_for(name)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # module parameters
    model, cases, opts = spec["make"](g)
    if not isinstance(model, torch.fx.GraphModule):  # PT2E-converted modules refuse eval()
        model = model.eval()
    example = cases[0][1]
    edge, graphs, outside = lower(model, example, opts.get("dynamic_shapes"), opts.get("partitioner"))
    described = [describe_graph(gr) for gr in graphs]
    present = set()
    for d in described:
        present |= set(d["nodes"])
    missing = spec["expect"] - present
    stray = set(outside) - ALLOWED_OUTSIDE
    if missing or stray:
        raise SystemExit(f"{name}: expected node types missing {sorted(missing)}; ops left outside the delegates "
                         f"{sorted(stray)}; delegated: {[d['nodes'] for d in described]}")
    buf = edge.to_executorch().buffer
    if len(buf) > MAX_FILE:
        raise SystemExit(f"{name}: {len(buf)} bytes, over {MAX_FILE}")
    doc = {
        "file": f"{name}.pte", "sha256": hashlib.sha256(buf).hexdigest(), "size": len(buf),
        "executorch": vers["executorch"], "torch": vers["torch"], "seed": seed,
        "generator": "tools/interop/xnnpack_nodes/make_node_fixtures.py",
        "description": spec["description"], "precision": spec["precision"],
        "partitioner": opts.get("partitioner", {}),
        "dynamicShapes": opts.get("dynamic_shapes") is not None,
        "xnnpack": {"delegates": described, "nodeTypes": sorted(present)},
        # int8 fixtures (one delegate whose outputs are the method's): one quantization step per output.
        "outputQuantScales": method_output_scales(edge, graphs) if spec["precision"] == "int8" else None,
        "outsideDelegate": outside,
        "outputsFrom": "official",
        "load": {"ok": True},
        "methods": {"forward": {"cases": [], "error": None}},
    }
    rt = Runtime.get()
    for case_name, args in cases:
        with torch.no_grad():
            eager = as_tuple(model(*args))
        logs = []
        try:
            with capture_fd2(logs):
                prog = rt.load_program(buf)
                outs = list(prog.load_method("forward").execute(list(args)))
            official_error = None
        except RuntimeError as e:
            official_error = {"message": f"{type(e).__name__}: {e}", "log": logs[-10:]}
        if spec["official"] != (official_error is None):
            raise SystemExit(f"{name}/{case_name}: official runtime {'failed' if official_error else 'succeeded'}"
                             f" unexpectedly: {official_error}")
        if official_error:
            # The official runtime cannot run it: the outputs are PyTorch eager's.
            doc["outputsFrom"] = "eager"
            doc["officialError"] = official_error
            outs = list(eager)
        eager_diff = [float((o.float() - e.float()).abs().max()) if o.numel() else 0.0 for o, e in zip(outs, eager)]
        doc["methods"]["forward"]["cases"].append({
            "name": case_name, "inputs": [to_value(a) for a in args], "outputs": [to_value(o) for o in outs],
            "eagerMaxAbsDiff": eager_diff})
    (out_dir / f"{name}.pte").write_bytes(buf)
    (out_dir / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{name}: {len(buf)} bytes, nodes {sorted(present)}, outside {outside}", flush=True)
    return {"name": name, "pte": f"{name}.pte", "json": f"{name}.json", "size": len(buf),
            "sha256": doc["sha256"], "precision": spec["precision"], "nodeTypes": sorted(present),
            "outputsFrom": doc["outputsFrom"],
            "cases": len(cases)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    vers = versions()
    entries = [make_fixture(s, out_dir, vers) for s in FIXTURES if not a.only or a.only in s["name"]]
    if a.only:
        return
    total = sum(e["size"] for e in entries)
    if total > MAX_TOTAL:
        raise SystemExit(f"fixtures total {total} bytes, over {MAX_TOTAL}")
    covered = sorted({t for e in entries if e["outputsFrom"] == "official" for t in e["nodeTypes"]})
    probe_results = [run_probe(*p) for p in probes()]
    index = {"generator": "tools/interop/xnnpack_nodes/make_node_fixtures.py", "versions": vers,
             "fixtures": entries, "nodeTypesCovered": covered, "probes": probe_results}
    (out_dir / "INDEX.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"{len(entries)} fixtures, {total} bytes; node types: {covered}")


if __name__ == "__main__":
    main()
