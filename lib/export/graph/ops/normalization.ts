// Normalizations: LayerNorm as one portable kernel (SigLIP), RMSNorm spelled with
// pointwise ops XNNPACK runs (Llama, Gemma; Gemma's (1 + w) is folded into w).
import { Graph, TensorValue, arg } from '../graph';
import { addScalar, mul, rsqrt } from './elementwise';
import { meanKeepDim } from './reduction';

/** LayerNorm over the last dim, with weight and bias: aten::native_layer_norm. */
export function layerNorm(g: Graph, x: TensorValue, weight: TensorValue, bias: TensorValue, eps: number): TensorValue {
  const width = weight.shape[0] as number;
  const stats = x.shape.map((d, i) => (i === x.shape.length - 1 ? 1 : d));
  const outputs = [g.activation(x.dtype, x.shape), g.activation('float32', stats), g.activation('float32', stats)];
  return g.call('aten::native_layer_norm', 'out', [arg.v(x), arg.ints([width]), arg.v(weight), arg.v(bias), arg.float(eps)], outputs);
}

/** x * rsqrt(mean(x^2) + eps) * w over the last dim. */
export function rmsNorm(g: Graph, x: TensorValue, weight: TensorValue, eps: number): TensorValue {
  const variance = meanKeepDim(g, mul(g, x, x), -1);
  return mul(g, mul(g, x, rsqrt(g, addScalar(g, variance, eps))), weight);
}
