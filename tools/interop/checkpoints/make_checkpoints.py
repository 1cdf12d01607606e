#!/usr/bin/env python3
"""Tiny random Hugging Face checkpoints for the exporter's tests, with transformers' own logits.

Usage (repository root, inside the interop venv, see tools/interop/requirements.txt and
tools/interop/llm/requirements.txt):
  python tools/interop/checkpoints/make_checkpoints.py [--out test/fixtures/checkpoints]

For each model: <out>/<name>/{config.json, generation_config.json, model.safetensors} written by
save_pretrained (float32, seeded), and <out>/<name>/reference.json with
  prompt            token ids (BOS + 11 ids)
  generated         16 greedy tokens of transformers' generate() (eager attention, KV cache)
  sequence          prompt + generated[:-1]
  logits            float32 [1, len(sequence), vocab] of one no-cache forward over `sequence`
                    (base64, little endian): row i is the distribution after token i
  versions          package versions
The model shapes are the ones tools/interop/llm uses, plus Qwen 2 (q/k/v bias) and SmolLM
(a Llama with tied embeddings).

gemma3mm (Gemma 3 vision-language) is written by tools/interop/llm's own build_checkpoint,
byte for byte the checkpoint its official exports (test/fixtures/interop/gemma3mm.*) were
made from, so our exporter's programs can be compared with the official ones on the same
weights. Its reference outputs are those fixtures; no reference.json is written.
"""
import argparse
import base64
import json
import sys
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "llm"))
import make_llm_fixtures as llm  # noqa: E402  (model table, seed, offline env)

PROMPT = [None, 23, 345, 67, 89, 401, 12, 77, 5, 130, 250, 311]  # None -> the model's BOS
NEW_TOKENS = 16

MODELS = {
    "llama": llm.MODELS["llama"],
    "qwen3": llm.MODELS["qwen3"],
    "gemma3": llm.MODELS["gemma3"],
    "qwen2": dict(kind="text", cls="Qwen2ForCausalLM", cfg_cls="Qwen2Config",
                  cfg=dict(llm.TEXT_DIMS, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True,
                           initializer_range=0.2)),
    "smollm": dict(kind="text", cls="LlamaForCausalLM", cfg_cls="LlamaConfig",
                   cfg=dict(llm.TEXT_DIMS, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True,
                            rms_norm_eps=1e-5, initializer_range=0.2)),
}


def b64(t):
    import numpy as np
    return base64.b64encode(t.detach().cpu().numpy().astype(np.float32).tobytes()).decode()


def make(name, spec, out):
    import torch
    import transformers
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    cfg = getattr(transformers, spec["cfg_cls"])(**spec["cfg"])
    torch.manual_seed(llm.SEED)
    model = getattr(transformers, spec["cls"])(cfg).eval()
    model.save_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                              attn_implementation="eager").eval()
    bos = cfg.bos_token_id
    prompt = [bos if t is None else t for t in PROMPT]
    ids = torch.tensor([prompt])
    with torch.no_grad():
        gen = model.generate(ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                             eos_token_id=None, pad_token_id=cfg.pad_token_id or 0)
    generated = [int(t) for t in gen[0, len(prompt):]]
    sequence = prompt + generated[:-1]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([sequence]), use_cache=False).logits.float()
    assert int(logits[0, len(prompt) - 1].argmax()) == generated[0]
    ref = {"model": name, "class": spec["cls"], "seed": llm.SEED, "prompt": prompt, "generated": generated,
           "sequence": sequence,
           "logits": {"dtype": "float32", "shape": list(logits.shape), "data": b64(logits)},
           "versions": {p: pkg_version(p) for p in ("torch", "transformers", "safetensors")}}
    (folder / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"[{name}] {size} bytes, generated {generated}")


def make_multimodal(name, out):
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    llm.build_checkpoint(name, folder)
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"[{name}] {size} bytes (reference: test/fixtures/interop/{name}.*.json)")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "test" / "fixtures" / "checkpoints"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args(argv)
    out = Path(a.out)
    for name, spec in MODELS.items():
        if not a.only or name in a.only:
            make(name, spec, out)
    if not a.only or "gemma3mm" in a.only:
        make_multimodal("gemma3mm", out)


if __name__ == "__main__":
    main(sys.argv[1:])
