#!/usr/bin/env python3
"""Reference greedy tokens for the benchmark prompt, to check that the benchmark's engines run the
same weights: `npm run bench` prints the first greedy tokens of each engine.

- transformers eager on the fp32 checkpoint: llama.cpp F16 / Q8_0 should match it (a wrong
  GGUF conversion, e.g. unpermuted Q/K, changes every token); Q4_0 drifts (4-bit noise on a random
  model whose top logits are ~0.1 apart).
- the official ExecuTorch runtime on llama1b.8da4w.pte: executorch-node should match it exactly.

Usage: /root/interop-venv/bin/python tools/interop/bench/check_greedy.py [--dir DIR] [--tokens N]
"""
import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_bench_model import CONFIG, NAME, default_dir  # noqa: E402  (also sets the offline HF environment)

PROMPT_TOKENS = 128


def bench_prompt(length, vocab_size):
    """bench/workload.js promptTokens(): x = (x * 1103515245 + 12345) mod 2^32, token = 3 + x mod (V - 3)."""
    x, out = 12345, []
    for _ in range(length):
        x = (x * 1103515245 + 12345) % 2**32
        out.append(3 + x % (vocab_size - 3))
    return out


def eager_greedy(ckpt, prompt, n):
    import torch
    import transformers
    model = transformers.LlamaForCausalLM.from_pretrained(ckpt, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=True)
        tokens = [int(out.logits[0, -1].argmax())]
        while len(tokens) < n:
            out = model(torch.tensor([[tokens[-1]]]), past_key_values=out.past_key_values, use_cache=True)
            tokens.append(int(out.logits[0, -1].argmax()))
    return tokens


def official_greedy(pte, prompt, n):
    import torch
    from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401  (registers llama::*)
    import executorch.kernels.quantized  # noqa: F401  (registers quantized_decomposed::*)
    from executorch.runtime import Runtime
    method = Runtime.get().load_program(str(pte)).load_method("forward")
    logits = method.execute([torch.tensor([prompt]), torch.arange(len(prompt))])[0]
    tokens = [int(logits[0, -1].argmax())]
    while len(tokens) < n:
        pos = len(prompt) + len(tokens) - 1
        logits = method.execute([torch.tensor([[tokens[-1]]]), torch.tensor([pos])])[0]
        tokens.append(int(logits[0, -1].argmax()))
    return tokens


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=default_dir())
    ap.add_argument("--tokens", type=int, default=8)
    a = ap.parse_args(argv)
    prompt = bench_prompt(PROMPT_TOKENS, CONFIG["vocab_size"])
    print(f"official ExecuTorch runtime, {NAME}.8da4w.pte: {official_greedy(a.dir / f'{NAME}.8da4w.pte', prompt, a.tokens)}")
    print(f"transformers eager, fp32 checkpoint:      {eager_greedy(a.dir / f'{NAME}-hf', prompt, a.tokens)}")


if __name__ == "__main__":
    main(sys.argv[1:])
