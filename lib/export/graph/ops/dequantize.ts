// Quantized constants back to float32 at run time, for ops that take float weights
// (weight-only quantized linears): quantized_decomposed::dequantize_per_channel.
import { ExecuTorchError } from '../../../runtime/errors';
import { Graph, TensorValue, arg } from '../graph';

/** ExecuTorch ScalarType codes, as the kernels read dtype arguments. */
const SCALAR_TYPE = { int8: 1, float32: 6 } as const;

/**
 * out = codes * scales[channel] (float32), one scale per index of `axis`; symmetric
 * int8 (no zero points, range [-128, 127]).
 */
export function dequantizePerChannel(g: Graph, codes: TensorValue, scales: TensorValue, axis: number): TensorValue {
  if (codes.dtype !== 'int8') throw new ExecuTorchError('Internal', `dequantize_per_channel of ${codes.dtype} codes`);
  const out = g.activation('float32', codes.shape);
  return g.call(
    'quantized_decomposed::dequantize_per_channel',
    'out',
    [arg.v(codes), arg.v(scales), arg.none(), arg.int(axis), arg.int(-128), arg.int(127), arg.int(SCALAR_TYPE.int8), arg.int(SCALAR_TYPE.float32)],
    [out],
  );
}
