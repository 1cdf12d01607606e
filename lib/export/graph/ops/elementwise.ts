// Pointwise ops: aten binary ops with broadcasting, scalar variants, unary math.
import { Graph, TensorValue, arg } from '../graph';
import { broadcastShapes } from './broadcast';

function binary(g: Graph, op: string, a: TensorValue, b: TensorValue, extra: ReturnType<typeof arg.int>[] = []): TensorValue {
  const out = g.activation(a.dtype, broadcastShapes(a.shape, b.shape));
  return g.call(op, 'out', [arg.v(a), arg.v(b), ...extra], [out]);
}

export const add = (g: Graph, a: TensorValue, b: TensorValue) => binary(g, 'aten::add', a, b, [arg.int(1)]);
export const sub = (g: Graph, a: TensorValue, b: TensorValue) => binary(g, 'aten::sub', a, b, [arg.int(1)]);
export const mul = (g: Graph, a: TensorValue, b: TensorValue) => binary(g, 'aten::mul', a, b);
export const div = (g: Graph, a: TensorValue, b: TensorValue) => binary(g, 'aten::div', a, b);

export function addScalar(g: Graph, a: TensorValue, s: number): TensorValue {
  return g.call('aten::add', 'Scalar_out', [arg.v(a), arg.float(s), arg.int(1)], [g.activation(a.dtype, a.shape)]);
}

export function mulScalar(g: Graph, a: TensorValue, s: number): TensorValue {
  return g.call('aten::mul', 'Scalar_out', [arg.v(a), arg.float(s)], [g.activation(a.dtype, a.shape)]);
}

function unary(g: Graph, op: string, a: TensorValue, extra: ReturnType<typeof arg.str>[] = []): TensorValue {
  return g.call(op, 'out', [arg.v(a), ...extra], [g.activation(a.dtype, a.shape)]);
}

export const neg = (g: Graph, a: TensorValue) => unary(g, 'aten::neg', a);
export const rsqrt = (g: Graph, a: TensorValue) => unary(g, 'aten::rsqrt', a);
export const sigmoid = (g: Graph, a: TensorValue) => unary(g, 'aten::sigmoid', a);
export const tanh = (g: Graph, a: TensorValue) => unary(g, 'aten::tanh', a);
/** approximate: 'none' (erf) or 'tanh'. */
export const gelu = (g: Graph, a: TensorValue, approximate: 'none' | 'tanh') => unary(g, 'aten::gelu', a, [arg.str(approximate)]);
/** x * sigmoid(x), spelled with ops every runtime has. */
export const silu = (g: Graph, a: TensorValue) => mul(g, a, sigmoid(g, a));
