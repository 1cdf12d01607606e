#!/usr/bin/env python3
"""Makes the models `npm run bench` compares: one random-weight ~1.1B Llama (TinyLlama shape), as
- llama1b.8da4w.pte   optimum-executorch XNNPACK recipe (custom SDPA + custom KV cache),
                      --qlinear 8da4w --qlinear_group_size 32 --qembedding 8w
- llama1b.Q4_0.gguf   the same weights for llama.cpp, every 2-D weight Q4_0
- llama1b.Q8_0.gguf   the same, Q8_0
- llama1b.json        manifest: config, seed, file sizes, export time, weight bytes a decode step streams.

Usage (from the repository root):
  /root/interop-venv/bin/python tools/interop/bench/make_bench_model.py [--dir DIR] [--force]
      [--max-seq-len N] [--formats Q4_0,Q8_0]

DIR defaults to $EXECUTORCH_NODE_BENCH_DIR or ~/.cache/executorch-node-bench. Steps whose output
exists are skipped unless --force. The checkpoint (llama1b-hf/, 4.4 GB fp32) is kept so the GGUF
files can be rewritten without a new export; delete it when done. Nothing is downloaded: the config
is written in code, as tools/interop/llm/make_llm_fixtures.py does for the tiny fixtures, and this
script reuses its checkpoint builder and export command.
"""
import argparse
import json
import os
import shutil
import sys
import time
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "llm"))
sys.path.insert(0, str(HERE))
import make_llm_fixtures as fixtures  # noqa: E402  (sets the offline HF environment on import)
from write_gguf import FORMATS, write_gguf  # noqa: E402

NAME = "llama1b"
# TinyLlama-1.1B's shape; untied lm_head; Llama 2 vocabulary size.
CONFIG = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
              num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
              rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
QLINEAR, QLINEAR_GROUP, QEMBEDDING = "8da4w", 32, "8w"


def default_dir():
    return Path(os.environ.get("EXECUTORCH_NODE_BENCH_DIR") or Path.home() / ".cache" / "executorch-node-bench")


def make_checkpoint(folder):
    fixtures.MODELS[NAME] = dict(kind="text", cls="LlamaForCausalLM", cfg_cls="LlamaConfig", cfg=CONFIG)
    t0 = time.time()
    fixtures.build_checkpoint(NAME, folder)  # seeded with fixtures.SEED
    print(f"checkpoint written to {folder} in {time.time() - t0:.0f} s", flush=True)


def export_pte(ckpt, out_pte, max_seq_len, work):
    """Runs optimum-cli (the official recipe) in a child process; returns (seconds, argv)."""
    fixtures.MAX_SEQ_LEN = max_seq_len  # export_command() reads this module global
    raw = work / "export-8da4w"
    shutil.rmtree(raw, ignore_errors=True)
    cmd = fixtures.export_command(ckpt, raw, "text", QLINEAR, QEMBEDDING)
    cmd += ["--qlinear_group_size", str(QLINEAR_GROUP)]
    log = work / "export-8da4w.log"
    print(f"exporting (log: {log}): {' '.join(cmd)}", flush=True)
    t0 = time.time()
    rc = fixtures.run_export(cmd, log)
    seconds = time.time() - t0
    if rc != 0 or not (raw / "model.pte").exists():
        sys.exit(f"export failed (exit code {rc}); see {log}")
    shutil.move(str(raw / "model.pte"), out_pte)
    shutil.rmtree(raw, ignore_errors=True)
    print(f"exported {out_pte} in {seconds:.0f} s", flush=True)
    return seconds, fixtures.display_command(cmd, ckpt, raw)


def linear_shapes(ckpt):
    """(out, in) of every 2-D weight except the token embedding: what a decode step reads whole."""
    from safetensors import safe_open
    shapes = []
    for f in sorted(Path(ckpt).glob("*.safetensors")):
        with safe_open(str(f), framework="numpy") as st:
            for name in st.keys():
                shape = st.get_slice(name).get_shape()
                if len(shape) == 2 and name != "model.embed_tokens.weight":
                    shapes.append(tuple(shape))
    return shapes


def qb4w_streamed_bytes(shapes, group):
    """8da4w linears: 4-bit codes (0.5 byte/weight) + one bf16 scale per group of `group` inputs."""
    return sum(o * i // 2 + o * (i // group) * 2 for o, i in shapes)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=default_dir())
    ap.add_argument("--force", action="store_true", help="redo every step")
    ap.add_argument("--max-seq-len", type=int, default=1024)
    ap.add_argument("--formats", default="Q4_0,Q8_0", help=f"GGUF formats, from {','.join(FORMATS)}")
    a = ap.parse_args(argv)
    a.dir.mkdir(parents=True, exist_ok=True)
    ckpt = a.dir / f"{NAME}-hf"
    manifest_path = a.dir / f"{NAME}.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() and not a.force else {}

    if a.force or not (ckpt / "config.json").exists():
        make_checkpoint(ckpt)
    shapes = linear_shapes(ckpt)
    manifest.update(name=NAME, seed=fixtures.SEED, config=CONFIG,
                    parameters=sum(o * i for o, i in shapes) + CONFIG["vocab_size"] * CONFIG["hidden_size"],
                    versions={p: pkg_version(p) for p in ("torch", "transformers", "executorch",
                                                          "optimum-executorch", "torchao", "gguf")})

    pte = a.dir / f"{NAME}.8da4w.pte"
    if a.force or not pte.exists() or manifest.get("pte", {}).get("maxSeqLen") != a.max_seq_len:
        seconds, cmd = export_pte(ckpt, pte, a.max_seq_len, a.dir)
        manifest["pte"] = dict(file=pte.name, qlinear=QLINEAR, qlinearGroupSize=QLINEAR_GROUP,
                               qembedding=QEMBEDDING, maxSeqLen=a.max_seq_len, exportSeconds=round(seconds, 1),
                               command=cmd)
    manifest["pte"].update(bytes=pte.stat().st_size,
                           streamedBytesPerToken=qb4w_streamed_bytes(shapes, QLINEAR_GROUP))

    for fmt in filter(None, a.formats.split(",")):
        path = a.dir / f"{NAME}.{fmt}.gguf"
        if a.force or not path.exists() or fmt not in manifest.get("gguf", {}):
            t0 = time.time()
            info = write_gguf(ckpt, path, fmt)
            print(f"wrote {path} in {time.time() - t0:.0f} s", flush=True)
            manifest.setdefault("gguf", {})[fmt] = dict(file=path.name, **info)

    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"manifest: {manifest_path}")


if __name__ == "__main__":
    main(sys.argv[1:])
