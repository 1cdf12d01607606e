import { Dim, Graph, TensorValue, arg } from '../graph';
import { normDim } from './broadcast';

/** Mean over one dim, keeping it (size 1). */
export function meanKeepDim(g: Graph, a: TensorValue, dim: number): TensorValue {
  const d = normDim(dim, a.shape.length);
  const shape: Dim[] = a.shape.map((s, i) => (i === d ? 1 : s));
  return g.call('aten::mean', 'out', [arg.v(a), arg.ints([dim]), arg.bool(true), arg.none()], [g.activation(a.dtype, shape)]);
}

/** Mean over several dims, dropping them. */
export function meanDims(g: Graph, a: TensorValue, dims: number[]): TensorValue {
  const drop = new Set(dims.map((d) => normDim(d, a.shape.length)));
  const shape: Dim[] = a.shape.filter((_, i) => !drop.has(i));
  return g.call('aten::mean', 'out', [arg.v(a), arg.ints(dims), arg.bool(false), arg.none()], [g.activation(a.dtype, shape)]);
}
