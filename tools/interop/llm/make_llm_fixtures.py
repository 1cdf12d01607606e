#!/usr/bin/env python3
"""Tiny random-weight LLMs exported with optimum-executorch (XNNPACK, custom SDPA, custom KV cache),
run in the OFFICIAL ExecuTorch runtime, and recorded as fixtures for executorch-node.

Usage (from the repository root, inside /root/interop-venv):
  make_llm_fixtures.py [--out DIR] [--work DIR] [--only NAME ...] [--keep-work]

  --out   defaults to test/fixtures/interop (relative to the repository root).
  --work  scratch folder for the checkpoints and the raw exports (default: a temp dir).
  --only  regenerates only the named fixtures and leaves INDEX.json alone.

Internal sub-command (the script calls itself in a child process for the multimodal export):
  make_llm_fixtures.py export-multimodal CKPT OUT_DIR [--qlinear X] [--qembedding Y] [--max-length N]

Nothing here touches the Hugging Face hub: every checkpoint is built from a config written in code,
HF_HUB_OFFLINE=1 is set for every child process, and no tokenizer is needed.
See README.md next to this script for the exact layout of the JSON files.
"""
import argparse
import base64
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DEFAULT_OUT = REPO / "test" / "fixtures" / "interop"
PY = sys.executable
MAX_SEQ_LEN = 64
SEED = 20260501
MAX_PTE_BYTES = 4 * 1024 * 1024

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}
for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

# ----------------------------------------------------------------------------- tiny models
# Common text-decoder shape. Group size 32 (the 8da4w group size optimum hard-codes for
# text-generation) divides both linear in_features (64 and 128).
TEXT_DIMS = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128)

MODELS = {
    # Llama 3 style, untied lm_head.
    "llama": dict(kind="text", cls="LlamaForCausalLM", cfg_cls="LlamaConfig",
                  cfg=dict(TEXT_DIMS, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
                           rms_norm_eps=1e-5)),
    # Qwen3 style (q_norm/k_norm), tied embeddings like Qwen3-0.6B, no sliding window.
    # initializer_range 0.2: with the default 0.02 the tied random model just repeats the last
    # prompt token forever, which makes a weak decode test.
    "qwen3": dict(kind="text", cls="Qwen3ForCausalLM", cfg_cls="Qwen3Config",
                  cfg=dict(TEXT_DIMS, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True,
                           initializer_range=0.2)),
    # Gemma 3 text: sliding window 8 on layer 0, global layer 1, tied, two eos ids like the real
    # configs. A window of 8 makes the prefill bound min(64, 8) - 1 = 7 and lets the decode
    # run past the window (position 8) and wrap the 2*8 = 16 slot ring cache (position 16).
    "gemma3": dict(kind="text", cls="Gemma3ForCausalLM", cfg_cls="Gemma3TextConfig",
                   cfg=dict(TEXT_DIMS, bos_token_id=2, eos_token_id=[1, 106], pad_token_id=0,
                            tie_word_embeddings=True, query_pre_attn_scalar=16, sliding_window=8,
                            layer_types=["sliding_attention", "full_attention"])),
    # Gemma 3 multimodal: the same text decoder (window 16 so a 10-token prompt with 4 image tokens
    # fits the prefill bound of 15) plus a 2-layer SigLIP on 32x32 images with 8x8 patches
    # (16 patches, avg-pooled 2x2 -> mm_tokens_per_image = 4).
    "gemma3mm": dict(kind="multimodal", cls="Gemma3ForConditionalGeneration", cfg_cls="Gemma3Config",
                     text=dict(TEXT_DIMS, bos_token_id=2, eos_token_id=[1, 106], pad_token_id=0,
                               tie_word_embeddings=True, query_pre_attn_scalar=16, sliding_window=16,
                               layer_types=["sliding_attention", "full_attention"]),
                     vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, image_size=32, patch_size=8, num_channels=3),
                     top=dict(mm_tokens_per_image=4, boi_token_index=255, eoi_token_index=256,
                              image_token_index=257, bos_token_id=2, eos_token_id=[1, 106],
                              pad_token_id=0, tie_word_embeddings=True)),
}

# A preprocessor_config.json written next to the multimodal checkpoint. optimum copies every key
# into the .pte as a constant method (str -> String, list -> several outputs, dict -> its values),
# exactly as for a real Gemma 3 export; None values are dropped.
GEMMA3MM_PREPROCESSOR = {
    "do_convert_rgb": None, "do_normalize": True, "do_pan_and_scan": None, "do_rescale": True,
    "do_resize": True, "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "Gemma3ImageProcessor",
    "image_seq_length": 4, "image_std": [0.5, 0.5, 0.5], "pan_and_scan_max_num_crops": None,
    "pan_and_scan_min_crop_size": None, "pan_and_scan_min_ratio_to_activate": None,
    "processor_class": "Gemma3Processor", "resample": 2, "rescale_factor": 1 / 255,
    "size": {"height": 32, "width": 32},
}

# name -> (model, qlinear, qembedding, decode steps)
FIXTURES = [
    ("llama.ql-none.qe-none", "llama", None, None, 8),
    ("llama.ql-8da4w.qe-none", "llama", "8da4w", None, 8),
    ("llama.ql-8da4w.qe-8w", "llama", "8da4w", "8w", 8),
    ("llama.ql-8w.qe-none", "llama", "8w", None, 8),
    ("llama.ql-8da8w.qe-none", "llama", "8da8w", None, 8),
    ("qwen3.ql-none.qe-none", "qwen3", None, None, 8),
    ("qwen3.ql-8da4w.qe-8w", "qwen3", "8da4w", "8w", 8),
    ("qwen3.ql-8da4w.qe-4w", "qwen3", "8da4w", "4w", 8),
    ("gemma3.ql-none.qe-none", "gemma3", None, None, 24),
    ("gemma3.ql-8da4w.qe-8w", "gemma3", "8da4w", "8w", 24),
    ("gemma3mm.ql-none.qe-none", "gemma3mm", None, None, 8),
    ("gemma3mm.ql-8da4w.qe-8w", "gemma3mm", "8da4w", "8w", 8),
]
# Known problems of the official toolchain, copied into the fixture JSON and INDEX.json.
KNOWN_ISSUES = {
    "llama.ql-8w.qe-none": (
        "NUMERICALLY WRONG EXPORT (official toolchain bug, executorch 1.5.1 + optimum-executorch 1.1.0): "
        "with --qlinear 8w (torchao IntxWeightOnlyConfig int8, group 32) the XNNPACK lowering emits fp32 "
        "FullyConnected nodes whose weights are the int8 codes converted to float, without the scales "
        "(the torchao.dequantize_affine in front of each weight is dropped). The .pte is the size of the "
        "fp32 one and its logits are ~1e3 instead of ~1. The official runtime output equals a float model "
        "whose linear weights are the raw int8 codes (max abs diff 1.3e-3 on values up to 1.7e3). "
        "Use it only to test that a runtime reproduces the official runtime on this file; "
        "llama.ql-8da8w.qe-none is the working int8-weight variant."),
}

# Fixed prompts (token ids). Text: BOS + 6 ids (7 tokens, equal to Gemma 3's prefill bound of 7).
TEXT_PROMPT_TAIL = [23, 345, 67, 89, 401, 12]
# Multimodal: BOS, a word, <start_of_image>, 4 x image token, <end_of_image>, two words.
MM_PROMPT = [2, 23, 255, 257, 257, 257, 257, 256, 67, 89]
# pixel_values[i] (flat row-major [1,3,32,32]) = float32(sin(i * 0.01)), computed in float64.
PIXEL_SCALE = 0.01


def pixel_values(shape=(1, 3, 32, 32)):
    import torch
    n = math.prod(shape)
    vals = [math.sin(i * PIXEL_SCALE) for i in range(n)]
    return torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(shape)


def build_config(spec):
    import transformers
    if spec["kind"] == "text":
        return getattr(transformers, spec["cfg_cls"])(**spec["cfg"])
    text = transformers.Gemma3TextConfig(**spec["text"])
    vision = transformers.SiglipVisionConfig(**spec["vision"])
    return transformers.Gemma3Config(text_config=text.to_dict(), vision_config=vision.to_dict(), **spec["top"])


def build_checkpoint(name, folder):
    """Random weights (seeded), saved with save_pretrained. No tokenizer is written."""
    import torch
    import transformers
    spec = MODELS[name]
    cfg = build_config(spec)
    torch.manual_seed(SEED)
    model = getattr(transformers, spec["cls"])(cfg).eval()
    if name == "gemma3mm":
        # transformers creates the projector's input projection as zeros and its random init
        # leaves it so: every image feature would be 0 and the vision path would go untested.
        gen = torch.Generator().manual_seed(SEED + 1)
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("mm_input_projection_weight"):
                    p.normal_(0.0, 0.2, generator=gen)
    model.save_pretrained(folder)
    if name == "gemma3mm":
        with open(Path(folder) / "preprocessor_config.json", "w") as f:
            json.dump(GEMMA3MM_PREPROCESSOR, f, indent=2, sort_keys=True)
    return cfg


# ----------------------------------------------------------------------------- export
def export_command(ckpt, out_dir, kind, qlinear, qembedding):
    """The exact command line run for one export (list of argv)."""
    if kind == "text":
        cmd = [str(Path(PY).parent / "optimum-cli"), "export", "executorch", "--model", str(ckpt),
               "--task", "text-generation", "--recipe", "xnnpack", "--use_custom_sdpa",
               "--use_custom_kv_cache", "--max_seq_len", str(MAX_SEQ_LEN), "-o", str(out_dir)]
    else:
        cmd = [PY, str(Path(__file__).resolve()), "export-multimodal", str(ckpt), str(out_dir),
               "--max-length", str(MAX_SEQ_LEN)]
    if qlinear:
        cmd += ["--qlinear", qlinear]
    if qembedding:
        cmd += ["--qembedding", qembedding]
    return cmd


def display_command(cmd, ckpt, out_dir):
    """The command with machine-specific paths replaced: <ckpt>, <out>, the venv's python/optimum-cli."""
    shown = []
    for c in cmd:
        if c == str(ckpt):
            c = "<ckpt>"
        elif c == str(out_dir):
            c = "<out>"
        elif c == PY:
            c = "python"
        elif c.endswith("/optimum-cli"):
            c = "optimum-cli"
        elif c == str(Path(__file__).resolve()):
            c = "tools/interop/llm/make_llm_fixtures.py"
        shown.append(c)
    return shown


def run_export(cmd, log_path):
    env = dict(os.environ, **OFFLINE_ENV)
    with open(log_path, "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    return rc


def export_multimodal_main(argv):
    """Child process: optimum's image-text-to-text export through its Python API.

    Two things differ from `optimum-cli export executorch --task image-text-to-text`:
    - The CLI's --max_seq_len is ignored by the multimodal loader (it reads `max_length`, default
      2048), so `max_length` is passed directly.
    - VisionExportableModule.prepare_export_inputs() would call AutoProcessor.from_pretrained()
      and download a sample image from the web just to get an example pixel_values tensor. It is
      replaced by a function that returns our fixed pixel_values (same static shape [1,3,32,32]).
    """
    ap = argparse.ArgumentParser(prog="make_llm_fixtures.py export-multimodal")
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--qlinear")
    ap.add_argument("--qembedding")
    ap.add_argument("--max-length", type=int, default=MAX_SEQ_LEN)
    a = ap.parse_args(argv)
    import optimum.exporters.executorch.integrations as integ
    from optimum.exporters.executorch import main_export

    def prepare_export_inputs(self):
        return pixel_values().to(dtype=self.model.dtype), None

    integ.VisionExportableModule.prepare_export_inputs = prepare_export_inputs
    kwargs = dict(use_custom_sdpa=True, use_custom_kv_cache=True, max_length=a.max_length)
    if a.qlinear:
        kwargs["qlinear"] = a.qlinear
    if a.qembedding:
        kwargs["qembedding"] = a.qembedding
    main_export(a.ckpt, task="image-text-to-text", recipe="xnnpack", output_dir=a.out, **kwargs)


# ----------------------------------------------------------------------------- values
DTYPE_NAMES = None


def dtype_name(t):
    import torch
    global DTYPE_NAMES
    if DTYPE_NAMES is None:
        DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
                       torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
                       torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
                       torch.uint16: "uint16", torch.bool: "bool"}
    return DTYPE_NAMES[t.dtype]


def tensor_value(t):
    import torch
    t = t.detach().contiguous().cpu()
    raw = t.view(torch.int16) if t.dtype in (torch.bfloat16, torch.uint16) else t
    return {"type": "tensor", "dtype": dtype_name(t), "shape": list(t.shape),
            "data": base64.b64encode(raw.numpy().tobytes()).decode()}


def to_value(x):
    import torch
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
    return {"type": "unknown", "repr": repr(x)}


def diff_stats(a, b):
    a = a.detach().to(dtype=b.dtype).reshape(-1).double()
    b = b.detach().reshape(-1).double()
    d = (a - b).abs()
    return {"maxAbs": float(d.max()), "meanAbs": float(d.mean()),
            "maxAbsRef": float(b.abs().max()),
            "argmaxAgree": None}


def top2_margin(row):
    """logit(top1) - logit(top2): how far the greedy choice is from a tie."""
    v = row.double().topk(2).values
    return float(v[0] - v[1])


def row_argmax_agreement(a, b):
    """Fraction of positions where argmax over the vocabulary agrees ([1,S,V] each)."""
    return float((a[0].argmax(-1) == b[0].argmax(-1)).double().mean())


# ----------------------------------------------------------------------------- program decode
SCALAR_TYPES = {0: "BYTE", 1: "CHAR", 2: "SHORT", 3: "INT", 4: "LONG", 5: "HALF", 6: "FLOAT",
                7: "DOUBLE", 11: "BOOL", 15: "BFLOAT16", 27: "UINT16"}


def xnn_graph_json(payload, work):
    """Decode one XNNPACK delegate payload (XH00 header + XNNGraph flatbuffer) with flatc."""
    import executorch
    schema = Path(list(executorch.__path__)[0]) / "backends" / "xnnpack" / "serialization" / "schema.fbs"
    if payload[4:8] == b"XH00":
        fb_off = int.from_bytes(payload[10:14], "little")
        fb_size = int.from_bytes(payload[14:18], "little")
        const_size = int.from_bytes(payload[22:30], "little")
        fb = payload[fb_off:fb_off + fb_size]
    else:
        fb, const_size = payload, 0
    with tempfile.TemporaryDirectory(dir=work) as td:
        p = Path(td) / "g.bin"
        p.write_bytes(fb)
        subprocess.run(["flatc", "--json", "--strict-json", "--raw-binary", "-o", td, str(schema),
                        "--", str(p)], check=True, capture_output=True)
        doc = json.loads((Path(td) / "g.json").read_text())
    return doc, fb[4:8].decode("latin1"), const_size


def describe_program(pte_bytes, work):
    from executorch.exir._serialize._program import deserialize_pte_binary
    from executorch.exir import schema as S
    pte = deserialize_pte_binary(pte_bytes)
    prog = pte.program
    plans = {}
    for plan in prog.execution_plan:
        ops = [f"{o.name}.{o.overload}" if o.overload else o.name for o in plan.operators]
        kernel_counts, delegate_calls = {}, 0
        for chain in plan.chains:
            for ins in chain.instructions:
                a = ins.instr_args
                if isinstance(a, S.KernelCall):
                    kernel_counts[ops[a.op_index]] = kernel_counts.get(ops[a.op_index], 0) + 1
                elif isinstance(a, S.DelegateCall):
                    delegate_calls += 1

        def val_desc(i):
            v = plan.values[i].val
            if isinstance(v, S.Tensor):
                return {"type": "tensor", "scalarType": SCALAR_TYPES.get(int(v.scalar_type), str(v.scalar_type)),
                        "sizes": list(v.sizes), "shapeDynamism": v.shape_dynamism.name}
            return {"type": type(v).__name__}

        delegates = []
        for d in plan.delegates:
            entry = {"id": d.id}
            if d.id == "XnnpackBackend" and d.processed.location == S.DataLocation.INLINE:
                payload = prog.backend_delegate_data[d.processed.index].data
                g, ident, const_size = xnn_graph_json(payload, work)
                nodes = {}
                for n in g.get("xnodes", []):
                    t = n.get("xnode_union_type", "?")
                    nodes[t] = nodes.get(t, 0) + 1
                dts = {}
                for xv in g.get("xvalues", []):
                    val = xv.get("xvalue_union", {})
                    inner = val.get("tensor_value", val)
                    dt = inner.get("datatype", "(default: invalid)")
                    dts[dt] = dts.get(dt, 0) + 1
                entry.update({"payloadBytes": len(payload), "flatbufferIdentifier": ident,
                              "payloadConstantBytes": const_size, "nodeTypes": dict(sorted(nodes.items())),
                              "valueDatatypes": dict(sorted(dts.items())),
                              "numExterns": g.get("num_externs", 0)})
            delegates.append(entry)
        plans[plan.name] = {
            "inputs": [val_desc(i) for i in plan.inputs],
            "outputs": [val_desc(i) for i in plan.outputs],
            "operators": ops,
            "kernelCalls": dict(sorted(kernel_counts.items())),
            "delegateCalls": delegate_calls,
            "delegates": delegates,
            "nonConstBufferSizes": list(plan.non_const_buffer_sizes),
        }
    # Raw layout (before deserialize_pte_binary moved the segment data back into the Program).
    from executorch.exir._serialize._program import _get_extended_header
    from executorch.exir._serialize._program import _flatbuffer_to_program
    eh = _get_extended_header(pte_bytes)
    raw = _flatbuffer_to_program(pte_bytes[:eh.program_size] if eh else pte_bytes)
    summary = {"programVersion": raw.version,
               "extendedHeader": ({"programSize": eh.program_size, "segmentBaseOffset": eh.segment_base_offset,
                                   "segmentDataSize": getattr(eh, "segment_data_size", None)} if eh else None),
               "segments": [{"offset": sg.offset, "size": sg.size} for sg in raw.segments],
               "constantSegment": {"segmentIndex": raw.constant_segment.segment_index,
                                   "offsets": len(raw.constant_segment.offsets)},
               "namedData": len(raw.named_data or []),
               "backendDelegateDataInline": len(raw.backend_delegate_data),
               "mutableDataSegments": len(raw.mutable_data_segments or [])}
    return plans, summary


# ----------------------------------------------------------------------------- official runtime
def load_runtime():
    # Registers llama::custom_sdpa.out / update_cache(.out) / update_cache_with_indices.out ...
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401
    # Registers quantized_decomposed::embedding_byte.out and friends.
    import executorch.kernels.quantized  # noqa: F401
    from executorch.runtime import Runtime
    return Runtime.get()


def method_meta(prog, name):
    mm = prog.metadata(name)
    out = {"numInputs": mm.num_inputs(), "numOutputs": mm.num_outputs(), "inputs": [], "outputs": []}
    for kind, n, get in (("inputs", mm.num_inputs(), mm.input_tensor_meta),
                         ("outputs", mm.num_outputs(), mm.output_tensor_meta)):
        for i in range(n):
            try:
                ti = get(i)
            except Exception:
                out[kind].append(None)  # not a tensor (the decoded program says what it is)
                continue
            out[kind].append({"sizes": list(ti.sizes()), "scalarType": SCALAR_TYPES.get(int(ti.dtype()), str(ti.dtype())),
                              "isMemoryPlanned": bool(ti.is_memory_planned()), "nbytes": int(ti.nbytes())})
    return out


def run_text(rt, pte_path, prompt, steps):
    import torch
    prog = rt.load_program(str(pte_path))
    fwd = prog.load_method("forward")
    ids = torch.tensor([prompt], dtype=torch.long)
    pos = torch.arange(len(prompt), dtype=torch.long)
    logits = fwd.execute([ids, pos])[0].clone()
    rec = {"prefill": {"inputs": [to_value(ids), to_value(pos)], "logits": to_value(logits)}}
    tok = int(logits[0, -1].argmax())
    generated, decode, all_logits = [tok], [], [logits[0]]
    for i in range(steps):
        p = len(prompt) + i
        ti = torch.tensor([[tok]], dtype=torch.long)
        pi = torch.tensor([p], dtype=torch.long)
        lg = fwd.execute([ti, pi])[0].clone()
        nxt = int(lg[0, -1].argmax())
        decode.append({"inputToken": tok, "cachePosition": p, "logits": to_value(lg), "argmax": nxt,
                       "top2Margin": top2_margin(lg[0, -1])})
        all_logits.append(lg[0])
        generated.append(nxt)
        tok = nxt
    rec["firstToken"] = generated[0]
    rec["firstTokenTop2Margin"] = top2_margin(logits[0, -1])
    rec["decode"] = decode
    rec["generated"] = generated
    return rec, torch.cat(all_logits, 0).unsqueeze(0)


def run_multimodal(rt, pte_path, prompt, image_token, steps, pv):
    import torch
    prog = rt.load_program(str(pte_path))
    venc = prog.load_method("vision_encoder")
    temb = prog.load_method("token_embedding")
    dec = prog.load_method("text_decoder")
    ids = torch.tensor([prompt], dtype=torch.long)
    feats = venc.execute([pv])[0].clone()
    emb = temb.execute([ids])[0].clone()
    merged = emb.clone()
    mask = ids == image_token
    merged[mask] = feats.reshape(-1, feats.shape[-1]).to(merged.dtype)  # optimum: emb[mask] = enc
    pos = torch.arange(len(prompt), dtype=torch.long)
    logits = dec.execute([merged, pos])[0].clone()
    rec = {
        "visionEncoder": {"inputs": [to_value(pv)], "output": to_value(feats)},
        "tokenEmbedding": {"inputs": [to_value(ids)], "output": to_value(emb)},
        "imageTokenPositions": [int(i) for i in mask[0].nonzero().reshape(-1)],
        "prefill": {"inputs": [to_value(merged), to_value(pos)], "logits": to_value(logits)},
    }
    tok = int(logits[0, -1].argmax())
    generated, decode, all_logits = [tok], [], [logits[0]]
    for i in range(steps):
        p = len(prompt) + i
        ti = torch.tensor([[tok]], dtype=torch.long)
        e = temb.execute([ti])[0].clone()
        pi = torch.tensor([p], dtype=torch.long)
        lg = dec.execute([e, pi])[0].clone()
        nxt = int(lg[0, -1].argmax())
        decode.append({"inputToken": tok, "cachePosition": p, "embedding": to_value(e),
                       "logits": to_value(lg), "argmax": nxt, "top2Margin": top2_margin(lg[0, -1])})
        all_logits.append(lg[0])
        generated.append(nxt)
        tok = nxt
    rec["firstToken"] = generated[0]
    rec["firstTokenTop2Margin"] = top2_margin(logits[0, -1])
    rec["decode"] = decode
    rec["generated"] = generated
    return rec, torch.cat(all_logits, 0).unsqueeze(0), feats, emb


def constant_methods(rt, pte_path, names):
    prog = rt.load_program(str(pte_path))
    out = {}
    for n in sorted(names):
        if prog.metadata(n).num_inputs() != 0:
            continue
        vals = prog.load_method(n).execute([])
        out[n] = [to_value(v) for v in vals]
    return out


# ----------------------------------------------------------------------------- eager reference
def eager_model(ckpt, kind, qlinear=None, qembedding=None):
    """Float transformers model (attn 'eager'); optionally quantized with optimum's own
    quantize_model_ exactly as its loader does (decoder linears gs=32 + lm_head, embeddings per row)."""
    import torch
    import transformers
    if kind == "text":
        m = transformers.AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32,
                                                              attn_implementation="eager").eval()
        if qlinear or qembedding:
            from optimum.exporters.executorch.quantization import quantize_model_
            quantize_model_(m, qlinear_config=qlinear, qembedding_config=qembedding)
    else:
        m = transformers.AutoModelForPreTraining.from_pretrained(ckpt, dtype=torch.float32,
                                                                 attn_implementation="eager").eval()
        if qlinear or qembedding:
            from optimum.exporters.executorch.quantization import quantize_model_
            quantize_model_(m.get_decoder(), qlinear_config=qlinear)
            if not hasattr(m.get_decoder(), "lm_head"):
                quantize_model_(m.lm_head, qlinear_config=qlinear)
            quantize_model_(m.get_decoder(), qembedding_config=qembedding)
    return m


def eager_logits(m, kind, seq, pv=None):
    import torch
    ids = torch.tensor([seq], dtype=torch.long)
    with torch.no_grad():
        if kind == "text":
            return m(input_ids=ids, use_cache=False).logits.float()
        return m(input_ids=ids, pixel_values=pv, use_cache=False).logits.float()


# ----------------------------------------------------------------------------- main
def versions():
    import executorch.version
    out = {}
    for p in ("executorch", "torch", "torchao", "transformers", "optimum", "optimum-executorch",
              "numpy", "huggingface_hub", "accelerate"):
        out[p] = pkg_version(p)
    out["executorchGit"] = getattr(executorch.version, "git_version", None)
    out["python"] = sys.version.split()[0]
    return out


def model_card(name, cfg):
    spec = MODELS[name]
    d = {"class": spec["cls"], "configClass": spec["cfg_cls"], "seed": SEED}
    if spec["kind"] == "text":
        d["config"] = spec["cfg"]
    else:
        d["textConfig"], d["visionConfig"], d["config"] = spec["text"], spec["vision"], spec["top"]
        d["preprocessorConfig"] = GEMMA3MM_PREPROCESSOR
    d["transformersConfig"] = json.loads(cfg.to_json_string(use_diff=False))
    return d


def process(name, model, qlinear, qembedding, steps, out_dir, work, ckpts, rt, vers):
    import torch
    spec = MODELS[model]
    ckpt, cfg = ckpts[model]
    raw_dir = work / "exports" / name
    if raw_dir.exists():
        shutil.rmtree(raw_dir)
    raw_dir.mkdir(parents=True)
    cmd = export_command(ckpt, raw_dir, spec["kind"], qlinear, qembedding)
    print(f"[{name}] export: {' '.join(cmd)}", flush=True)
    rc = run_export(cmd, work / f"{name}.export.log")
    if rc != 0 or not (raw_dir / "model.pte").exists():
        tail = (work / f"{name}.export.log").read_text().splitlines()[-30:]
        raise RuntimeError(f"export failed rc={rc}:\n" + "\n".join(tail))
    extra = sorted(p.name for p in raw_dir.iterdir() if p.name != "model.pte")
    data = (raw_dir / "model.pte").read_bytes()
    if len(data) >= MAX_PTE_BYTES:
        raise RuntimeError(f"{name}.pte is {len(data)} bytes (limit {MAX_PTE_BYTES})")
    pte_path = out_dir / f"{name}.pte"
    pte_path.write_bytes(data)

    plans, prog_summary = describe_program(data, work)
    prog = rt.load_program(str(pte_path))
    names = sorted(prog.method_names)
    metas = {n: method_meta(prog, n) for n in names}
    consts = constant_methods(rt, pte_path, names)

    torch.manual_seed(0)
    if spec["kind"] == "text":
        bos = spec["cfg"]["bos_token_id"]
        prompt = [bos] + TEXT_PROMPT_TAIL
        rec, et_logits = run_text(rt, pte_path, prompt, steps)
        pv = None
    else:
        prompt = MM_PROMPT
        pv = pixel_values()
        rec, et_logits, et_feats, et_emb = run_multimodal(rt, pte_path, prompt, spec["top"]["image_token_index"],
                                                         steps, pv)
    seq = prompt + rec["generated"][:-1]  # every token that was fed to the program

    eager = {"attnImplementation": "eager", "sequence": seq}
    comparisons = {}
    for label, ql, qe in (("float", None, None), ("quantized", qlinear, qembedding)):
        if label == "quantized" and not (qlinear or qembedding):
            continue
        m = eager_model(ckpt, spec["kind"], ql, qe)
        lg = eager_logits(m, spec["kind"], seq, pv)
        key = "logits" if label == "float" else "quantizedLogits"
        eager[key] = to_value(lg)
        d = diff_stats(et_logits, lg)
        d["argmaxAgree"] = row_argmax_agreement(et_logits, lg)
        d["greedyTokensEager"] = [int(x) for x in lg[0, len(prompt) - 1:].argmax(-1)]
        comparisons[label] = d
        if spec["kind"] == "multimodal":
            with torch.no_grad():
                f = m.get_image_features(pv)
                f = torch.stack(f) if isinstance(f, (list, tuple)) else f
                e = m.get_input_embeddings()(torch.tensor([prompt]))
            eager["imageFeatures" if label == "float" else "quantizedImageFeatures"] = to_value(f)
            eager["tokenEmbedding" if label == "float" else "quantizedTokenEmbedding"] = to_value(e)
            if not float(f.abs().max()) > 0:
                raise RuntimeError("the image features are all zero: the vision path would go untested")
            comparisons[label]["visionEncoderMaxAbs"] = float((et_feats - f.reshape(et_feats.shape)).abs().max())
            comparisons[label]["tokenEmbeddingMaxAbs"] = float((et_emb - e).abs().max())
        del m
    eager["note"] = ("logits: float transformers model (no KV cache) on `sequence` = prompt + the program's "
                     "greedy tokens except the last; row i is the logits after token i, so rows [0, S) match "
                     "the prefill and row S-1+k matches decode step k. quantizedLogits: the same model after "
                     "optimum's quantize_model_ with this fixture's qlinear/qembedding (torchao eager).")
    if spec["kind"] == "multimodal":
        eager["note"] += " Multimodal eager runs are causal (no token_type_ids), like the exported decoder."

    sanity = {"prefillArgmaxEqualsFirstToken": int(et_logits[0, len(prompt) - 1].argmax()) == rec["firstToken"],
              "decodeArgmaxConsistent": all(int(s["argmax"]) == rec["generated"][i + 1]
                                            for i, s in enumerate(rec["decode"])),
              "vsEager": comparisons}

    non_delegated = {}
    for pn, p in plans.items():
        for op, c in p["kernelCalls"].items():
            non_delegated.setdefault(op, {})[pn] = c

    doc = {
        "file": pte_path.name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
        "versions": vers,
        "model": model_card(model, cfg),
        "export": {"task": "text-generation" if spec["kind"] == "text" else "image-text-to-text",
                   "recipe": "xnnpack", "useCustomSdpa": True, "useCustomKvCache": True,
                   "qlinear": qlinear, "qembedding": qembedding, "maxSeqLen": MAX_SEQ_LEN,
                   "command": display_command(cmd, ckpt, raw_dir),
                   "commandLine": " ".join(display_command(cmd, ckpt, raw_dir)),
                   "otherOutputFiles": extra},
        "program": {"summary": prog_summary, "methodNames": names, "methods": plans,
                    "nonDelegatedOperators": dict(sorted(non_delegated.items()))},
        "methodMeta": metas,
        "constantMethods": consts,
        "prompt": prompt,
    }
    if name in KNOWN_ISSUES:
        doc["knownIssue"] = KNOWN_ISSUES[name]
    if spec["kind"] == "multimodal":
        doc["export"]["note"] = (
            "optimum.exporters.executorch.main_export(<ckpt>, task='image-text-to-text', recipe='xnnpack', "
            "use_custom_sdpa=True, use_custom_kv_cache=True, max_length=64[, qlinear, qembedding]) with "
            "VisionExportableModule.prepare_export_inputs replaced to return pixelValues (no processor/web "
            "download). The CLI equivalent would be `optimum-cli export executorch --task image-text-to-text "
            "--recipe xnnpack --use_custom_sdpa --use_custom_kv_cache ...`, but its --max_seq_len is ignored "
            "by the multimodal loader (max_length stays 2048).")
    if pv is not None:
        doc["pixelValues"] = {"formula": "x[i] = float32(sin(i * 0.01)), i = flat row-major index, computed in float64",
                              "shape": list(pv.shape), "sha256": hashlib.sha256(pv.numpy().tobytes()).hexdigest()}
    doc["run"] = rec
    doc["eager"] = eager
    doc["sanity"] = sanity
    jpath = out_dir / f"{name}.json"
    jpath.write_text(json.dumps(doc, indent=1) + "\n")
    return doc, cmd


def main(argv):
    if argv and argv[0] == "export-multimodal":
        return export_multimodal_main(argv[1:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--work")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--keep-work", action="store_true")
    a = ap.parse_args(argv)
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="llm-fixtures-"))
    work.mkdir(parents=True, exist_ok=True)
    todo = [f for f in FIXTURES if not a.only or f[0] in a.only]
    rt = load_runtime()
    vers = versions()

    ckpts = {}
    for model in sorted({f[1] for f in todo}):
        folder = work / "ckpt" / model
        if folder.exists():
            shutil.rmtree(folder)
        cfg = build_checkpoint(model, folder)
        ckpts[model] = (folder, cfg)

    results, failures = {}, {}
    for name, model, ql, qe, steps in todo:
        try:
            doc, cmd = process(name, model, ql, qe, steps, out_dir, work, ckpts, rt, vers)
            results[name] = doc
            s = doc["sanity"]
            print(f"[{name}] {doc['size']} B, generated {doc['run']['generated']}, "
                  f"prefill==first {s['prefillArgmaxEqualsFirstToken']}, "
                  f"vs float eager maxAbs {s['vsEager']['float']['maxAbs']:.3g}"
                  + (f", vs quantized eager maxAbs {s['vsEager']['quantized']['maxAbs']:.3g}"
                     if "quantized" in s["vsEager"] else ""), flush=True)
        except Exception as e:  # record and continue with the rest
            failures[name] = str(e)
            print(f"[{name}] FAILED: {e}", flush=True)

    if not a.only:
        index = {"generator": "tools/interop/llm/make_llm_fixtures.py", "versions": vers,
                 "maxSeqLen": MAX_SEQ_LEN, "seed": SEED, "fixtures": [], "failures": failures}
        for name, model, ql, qe, steps in FIXTURES:
            if name not in results:
                continue
            d = results[name]
            index["fixtures"].append({
                "name": name, "pte": d["file"], "json": f"{name}.json", "size": d["size"], "sha256": d["sha256"],
                "model": model, "class": d["model"]["class"], "task": d["export"]["task"],
                "qlinear": ql, "qembedding": qe, "decodeSteps": steps,
                "methods": [n for n in d["program"]["methodNames"]
                            if d["methodMeta"][n]["numInputs"] > 0],
                "command": d["export"]["command"], "commandLine": d["export"]["commandLine"],
                "knownIssue": KNOWN_ISSUES.get(name)})
        (out_dir / "INDEX.json").write_text(json.dumps(index, indent=1) + "\n")
    if not a.keep_work and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
