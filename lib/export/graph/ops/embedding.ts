import { ExecuTorchError } from '../../../runtime/errors';
import { Graph, TensorValue, arg } from '../graph';

/** weight[indices]: indices [...], weight [V, H] -> [..., H]. */
export function embedding(g: Graph, weight: TensorValue, indices: TensorValue): TensorValue {
  const out = g.activation(weight.dtype, [...indices.shape, weight.shape[1]]);
  return g.call('aten::embedding', 'out', [arg.v(weight), arg.v(indices), arg.int(-1), arg.bool(false), arg.bool(false)], [out]);
}

/**
 * Rows of an int8 table with a float scale per row (qembedding '8w'):
 * out = weight[i] * scales[i]. Zero points are 0 (symmetric), the range [-128, 127].
 */
export function embeddingByte(g: Graph, weight: TensorValue, scales: TensorValue, indices: TensorValue): TensorValue {
  if (weight.dtype !== 'int8') throw new ExecuTorchError('Internal', 'embedding_byte needs an int8 table');
  const out = g.activation('float32', [...indices.shape, weight.shape[1]]);
  return g.call(
    'quantized_decomposed::embedding_byte',
    'out',
    [arg.v(weight), arg.v(scales), arg.none(), arg.int(-128), arg.int(127), arg.v(indices)],
    [out],
  );
}

/**
 * Rows of an int4 table, two codes per byte (uint8 [V, D / 2], see
 * packInt4HighFirst) with float scales [V, G] (G groups of D / G values per row; G = 1:
 * one scale per row): out = code * scale. Symmetric, the range [-8, 7]. Also the
 * exporter's int4 weight dequantizer (indices 0..V-1 give the whole table).
 */
export function embedding4bit(g: Graph, weight: TensorValue, scales: TensorValue, indices: TensorValue): TensorValue {
  if (weight.dtype !== 'uint8') throw new ExecuTorchError('Internal', 'embedding_4bit needs a uint8 table');
  const out = g.activation('float32', [...indices.shape, (weight.shape[1] as number) * 2]);
  return g.call(
    'quantized_decomposed::embedding_4bit',
    'out',
    [arg.v(weight), arg.v(scales), arg.none(), arg.int(-8), arg.int(7), arg.v(indices)],
    [out],
  );
}
