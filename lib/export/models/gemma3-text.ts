// Gemma 3 text decoder: (1 + w) RMSNorms, q/k norm, norms after attention and around
// the MLP, tanh-GELU, embeddings scaled by sqrt(hidden), attention scaled by
// query_pre_attn_scalar^-0.5, sliding-window layers with their own RoPE base.
import { ExecuTorchError } from '../../runtime/errors';
import { float32ToBf16 } from '../pte/xnnpack-writer';
import { TextArchitecture, baseDecoderSpec } from './architecture';

export const gemma3Text: TextArchitecture = {
  modelTypes: ['gemma3_text'],
  decoderSpec: (text) => {
    if (text.attnLogitSoftcapping !== null)
      throw new ExecuTorchError('NotSupported', 'Gemma 3 attention logit soft-capping is not supported by the exporter');
    // transformers multiplies by sqrt(hidden) rounded to the weights' dtype.
    const scale = Math.sqrt(text.hiddenSize);
    return {
      ...baseDecoderSpec(text),
      normWeightOffset: 1,
      qkNorm: true,
      sandwichNorms: true,
      embedScale: text.dtype === 'bfloat16' ? roundToBf16(scale) : Math.fround(scale),
      attnScale: 1 / Math.sqrt(text.queryPreAttnScalar ?? text.headDim),
    };
  },
};

/** x rounded to the nearest bfloat16, as a number. */
function roundToBf16(x: number): number {
  return new Float32Array(new Uint32Array([float32ToBf16([x])[0] << 16]).buffer)[0];
}
