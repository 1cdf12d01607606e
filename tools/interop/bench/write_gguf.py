"""Writes a Hugging Face Llama checkpoint (safetensors, fp32) as a llama.cpp GGUF file.

Only what the benchmark needs: the `llama` architecture keys, a dummy SentencePiece-style vocabulary
(control tokens, 256 byte tokens, then placeholders; the benchmark feeds token ids, never text),
and every 2-D weight quantized with gguf-py's numpy quantizers ("pure": token_embd and output use
the same type as the layers, unlike llama-quantize, which would make output.weight Q6_K). Norms stay F32.

Q and K are permuted the way llama.cpp's convert_hf_to_gguf.py does for Llama (HF stores the rotary
halves split; ggml's rope expects them interleaved), so the GGUF computes the same function as the
checkpoint.
"""
import json
from pathlib import Path

import gguf
import numpy as np
from safetensors import safe_open

FORMATS = {
    # F16 is for checking the conversion (its greedy tokens should follow the fp32 checkpoint's).
    "F16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "Q4_0": (gguf.GGMLQuantizationType.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    "Q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
}

# HF module name (after "model.layers.N.") -> GGUF tensor name (after "blk.N.")
LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
TOP_TENSORS = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
               "lm_head.weight": "output.weight"}


def gguf_name(hf_name):
    if hf_name in TOP_TENSORS:
        return TOP_TENSORS[hf_name]
    _, _, layer, rest = hf_name.split(".", 3)  # model.layers.N.rest
    return f"blk.{layer}.{LAYER_TENSORS[rest]}"


def permute_rope(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: rows (head, half, i) -> (head, i, half)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def add_vocab(writer, vocab_size, bos, eos):
    T = gguf.TokenType
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [T.UNKNOWN, T.CONTROL, T.CONTROL] + [T.BYTE] * 256
    tokens += [f"\u2581t{i}" for i in range(len(tokens), vocab_size)]
    types += [T.NORMAL] * (vocab_size - len(types))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(vocab_size)])
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)


def add_hparams(writer, cfg, file_type):
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    rope = cfg.get("rope_parameters") or {}
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(cfg["num_attention_heads"])
    writer.add_head_count_kv(cfg["num_key_value_heads"])
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_vocab_size(cfg["vocab_size"])
    writer.add_file_type(file_type)


def checkpoint_tensors(ckpt_dir):
    """(name, fp32 array) for every tensor of the checkpoint, sharded or not, in name order."""
    files = sorted(Path(ckpt_dir).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors in {ckpt_dir}")
    for f in files:
        with safe_open(str(f), framework="numpy") as st:
            for name in sorted(st.keys()):
                yield name, st.get_tensor(name).astype(np.float32)


def write_gguf(ckpt_dir, out_path, fmt):
    """Returns {"bytes": file size, "streamedBytesPerToken": bytes of the 2-D weights a decode step reads}."""
    qtype, file_type = FORMATS[fmt]
    ckpt_dir = Path(ckpt_dir)
    cfg = json.loads((ckpt_dir / "config.json").read_text())
    if cfg.get("tie_word_embeddings"):
        raise ValueError("tied embeddings are not handled (the benchmark model is untied)")
    writer = gguf.GGUFWriter(str(out_path), "llama")
    writer.add_name("executorch-node bench llama1b (random weights)")
    add_hparams(writer, cfg, file_type)
    add_vocab(writer, cfg["vocab_size"], cfg["bos_token_id"], cfg["eos_token_id"])
    streamed = 0
    for hf_name, w in checkpoint_tensors(ckpt_dir):
        if hf_name.endswith("q_proj.weight"):
            w = permute_rope(w, cfg["num_attention_heads"])
        elif hf_name.endswith("k_proj.weight"):
            w = permute_rope(w, cfg["num_key_value_heads"])
        name = gguf_name(hf_name)
        if w.ndim == 1:
            writer.add_tensor(name, w)
            continue
        q = gguf.quants.quantize(w, qtype)
        writer.add_tensor(name, q, raw_dtype=qtype)
        # A decode step reads every 2-D weight whole, except token_embd (one row).
        if name != "token_embd.weight":
            streamed += q.nbytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"bytes": Path(out_path).stat().st_size, "streamedBytesPerToken": streamed}
