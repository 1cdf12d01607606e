// Token ids -> embeddings, as float rows or through a quantized table, times the
// architecture's embedding scale (Gemma). Shared by the decoder's `forward` and the
// image-text program's `token_embedding` method.
import { Graph, TensorValue } from '../graph/graph';
import { embedding, embedding4bit, embeddingByte } from '../graph/ops/embedding';
import { mulScalar } from '../graph/ops/elementwise';
import { DecoderSpec } from './decoder-spec';
import { WeightConstants } from './weight-constants';

/**
 * How the embedding table is stored: '8w' int8 rows or '4w' int4 rows (two per byte),
 * each row with one float32 scale, as optimum-executorch's qembedding options
 * (torchao IntxWeightOnlyConfig, PerAxis(0)) store them.
 */
export type EmbeddingQuant = '8w' | '4w';

export function tokenEmbedding(
  g: Graph,
  w: WeightConstants,
  spec: DecoderSpec,
  inputIds: TensorValue,
  quant: EmbeddingQuant | undefined,
): TensorValue {
  let h: TensorValue;
  if (quant === '8w') {
    const { codes, scales } = w.int8Rows('embed_tokens.weight');
    h = embeddingByte(g, codes, scales, inputIds);
  } else if (quant === '4w') {
    const { codes, scales } = w.int4Rows('embed_tokens.weight');
    h = embedding4bit(g, codes, scales, inputIds);
  } else {
    h = embedding(g, w.get('embed_tokens.weight'), inputIds);
  }
  return spec.embedScale !== null ? mulScalar(g, h, spec.embedScale) : h;
}
