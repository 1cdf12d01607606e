// Integer tensor arithmetic with int or run-time (symbolic) scalars: positions of
// cache slots and of the queries, computed in the graph.
import { Graph, SymIntValue, TensorValue, arg } from '../graph';

type IntScalar = number | SymIntValue;
const scalarArg = (s: IntScalar) => (typeof s === 'number' ? arg.int(s) : arg.v(s));

/** a + s (elementwise). */
export function addInt(g: Graph, a: TensorValue, s: IntScalar): TensorValue {
  return g.call('aten::add', 'Scalar_out', [arg.v(a), scalarArg(s), arg.int(1)], [g.activation(a.dtype, a.shape)]);
}

/** a - s (elementwise). */
export function subInt(g: Graph, a: TensorValue, s: IntScalar): TensorValue {
  return g.call('aten::sub', 'Scalar_out', [arg.v(a), scalarArg(s), arg.int(1)], [g.activation(a.dtype, a.shape)]);
}

/** a * s (elementwise). */
export function mulInt(g: Graph, a: TensorValue, s: IntScalar): TensorValue {
  return g.call('aten::mul', 'Scalar_out', [arg.v(a), scalarArg(s)], [g.activation(a.dtype, a.shape)]);
}

/** a mod s with the sign of s (Python's %), so the result is in [0, s) for s > 0. */
export function remainderInt(g: Graph, a: TensorValue, s: number): TensorValue {
  return g.call('aten::remainder', 'Scalar_out', [arg.v(a), arg.int(s)], [g.activation(a.dtype, a.shape)]);
}
