// Symbolic ints: sizes of inputs and positions read from tensors, and their arithmetic.
import { Graph, SymDim, SymIntValue, TensorValue, arg } from '../graph';
import { select } from './shape-ops';

/** The run-time size of a dim of `a` (which must be symbolic); binds it in the graph. */
export function symSize(g: Graph, a: TensorValue, dim: number): SymIntValue {
  const d = a.shape[dim] as SymDim;
  const v = g.call('aten::sym_size', 'int', [arg.v(a), arg.int(dim)], [g.symint(d, `${d.sym}`)]);
  g.bindSym(d, v);
  return v;
}

/** The int in element `index` of a 1-D int64 tensor (e.g. cache_position[0]). */
export function readInt(g: Graph, a: TensorValue, index: number, name: string): SymIntValue {
  const element = select(g, a, 0, index);
  return g.call('aten::_local_scalar_dense', '', [arg.v(element)], [g.symint(undefined, name)]);
}

export function addInts(g: Graph, a: SymIntValue, b: SymIntValue, name: string): SymIntValue {
  return g.call('executorch_prim::add', 'Scalar', [arg.v(a), arg.v(b)], [g.symint(undefined, name)]);
}
