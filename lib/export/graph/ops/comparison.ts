// Comparisons, boolean logic and selection, as the in-graph attention masks use
// them (positions are int64 tensors, the masks bool until `where` makes them additive).
import { Graph, TensorValue, arg } from '../graph';
import { broadcastShapes } from './broadcast';

function compare(g: Graph, op: string, a: TensorValue, b: TensorValue): TensorValue {
  return g.call(op, 'Tensor_out', [arg.v(a), arg.v(b)], [g.activation('bool', broadcastShapes(a.shape, b.shape))]);
}

export const le = (g: Graph, a: TensorValue, b: TensorValue) => compare(g, 'aten::le', a, b);
export const ge = (g: Graph, a: TensorValue, b: TensorValue) => compare(g, 'aten::ge', a, b);
export const lt = (g: Graph, a: TensorValue, b: TensorValue) => compare(g, 'aten::lt', a, b);

/** a >= s for an int scalar. */
export function geScalar(g: Graph, a: TensorValue, s: number): TensorValue {
  return g.call('aten::ge', 'Scalar_out', [arg.v(a), arg.int(s)], [g.activation('bool', a.shape)]);
}

function logical(g: Graph, op: string, a: TensorValue, b: TensorValue): TensorValue {
  return g.call(op, 'out', [arg.v(a), arg.v(b)], [g.activation('bool', broadcastShapes(a.shape, b.shape))]);
}

export const logicalAnd = (g: Graph, a: TensorValue, b: TensorValue) => logical(g, 'aten::logical_and', a, b);
export const logicalOr = (g: Graph, a: TensorValue, b: TensorValue) => logical(g, 'aten::logical_or', a, b);

/** condition ? a : b, broadcast. */
export function where(g: Graph, condition: TensorValue, a: TensorValue, b: TensorValue): TensorValue {
  const shape = broadcastShapes(broadcastShapes(condition.shape, a.shape), b.shape);
  return g.call('aten::where', 'self_out', [arg.v(condition), arg.v(a), arg.v(b)], [g.activation(a.dtype, shape)]);
}
