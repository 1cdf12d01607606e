// The constant methods optimum-executorch writes next to a decoder's methods
// (get_max_seq_len, get_eos_id, sliding_window, ...): what a runner reads to size
// its loop without the checkpoint.
import { Checkpoint } from '../export/hf';
import { ConstantValue } from '../export/lower/lower-program';
import { DecoderSpec } from '../export/models/decoder-spec';

/** ScalarType of the program's float compute (6 = float32). */
const FLOAT32_SCALAR_TYPE = 6;

export function decoderMetadata(checkpoint: Checkpoint, spec: DecoderSpec, maxSeqLen: number): Record<string, ConstantValue[]> {
  const c = checkpoint.config;
  const text = c.text;
  const meta: Record<string, ConstantValue[]> = {
    get_max_seq_len: [maxSeqLen],
    get_max_batch_size: [1],
    get_vocab_size: [text.vocabSize],
    get_n_layers: [text.numLayers],
    get_n_kv_heads: [text.numKvHeads],
    get_head_dim: [{ double: text.headDim }],
    get_dtype: [FLOAT32_SCALAR_TYPE],
    use_kv_cache: [true],
    use_sdpa_with_kv_cache: [true],
    enable_dynamic_shape: [true],
    get_eos_id: eosIds(checkpoint),
  };
  const bos = checkpoint.generationConfig?.bosTokenId ?? c.bosTokenId;
  if (bos !== null && bos !== undefined) meta.get_bos_id = [bos];
  if (spec.layers.some((l) => l.slidingWindow !== null) && text.slidingWindow !== null) meta.sliding_window = [text.slidingWindow];
  return meta;
}

/** generation_config.json's eos ids, else config.json's. */
function eosIds(ckpt: Checkpoint): number[] {
  const gen = ckpt.generationConfig?.eosTokenIds ?? [];
  return gen.length > 0 ? gen : ckpt.config.eosTokenIds;
}
