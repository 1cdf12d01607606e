// Data movement: views, permutes, slices, selects, concatenation.
import { ExecuTorchError } from '../../../runtime/errors';
import { Dim, Graph, Shape, SymIntValue, TensorValue, arg, isSym, maxNumel, sameDim, shapeString } from '../graph';
import { normDim } from './broadcast';

/** A reshape (copying; a static reshape inside XNNPACK partitions). */
export function view(g: Graph, a: TensorValue, shape: Shape): TensorValue {
  const known = (s: Shape) => s.filter((d) => !isSym(d)).reduce<number>((n, d) => n * (d as number), 1);
  const symsOf = (s: Shape) => s.filter(isSym).map((d) => d.sym).sort().join(',');
  if (known(a.shape) !== known(shape) || symsOf(a.shape) !== symsOf(shape) || maxNumel(a.shape) !== maxNumel(shape))
    throw new ExecuTorchError('Internal', `cannot view ${shapeString(a.shape)} as ${shapeString(shape)}`);
  return g.call('aten::view_copy', 'out', [arg.v(a), arg.ints(shape.map((d) => g.dimArg(d)))], [g.activation(a.dtype, shape)]);
}

export function permute(g: Graph, a: TensorValue, dims: number[]): TensorValue {
  const shape = dims.map((d) => a.shape[normDim(d, a.shape.length)]);
  return g.call('aten::permute_copy', 'out', [arg.v(a), arg.ints(dims)], [g.activation(a.dtype, shape)]);
}

/** a[..., start:end, ...] along `dim` with static bounds. */
export function slice(g: Graph, a: TensorValue, dim: number, start: number, end: number): TensorValue {
  const d = normDim(dim, a.shape.length);
  const shape: Dim[] = [...a.shape];
  shape[d] = end - start;
  return g.call('aten::slice_copy', 'Tensor_out', [arg.v(a), arg.int(d), arg.int(start), arg.int(end), arg.int(1)], [
    g.activation(a.dtype, shape),
  ]);
}

/** a[..., start:start+length, ...] with a run-time start and a (possibly symbolic) length. */
export function sliceFrom(g: Graph, a: TensorValue, dim: number, start: SymIntValue, end: SymIntValue, length: Dim): TensorValue {
  const d = normDim(dim, a.shape.length);
  const shape: Dim[] = [...a.shape];
  shape[d] = length;
  return g.call('aten::slice_copy', 'Tensor_out', [arg.v(a), arg.int(d), arg.v(start), arg.v(end), arg.int(1)], [
    g.activation(a.dtype, shape),
  ]);
}

/** a.select(dim, index): drops the dim. */
export function select(g: Graph, a: TensorValue, dim: number, index: number): TensorValue {
  const d = normDim(dim, a.shape.length);
  const shape = a.shape.filter((_, i) => i !== d);
  return g.call('aten::select_copy', 'int_out', [arg.v(a), arg.int(d), arg.int(index)], [g.activation(a.dtype, shape)]);
}

export function cat(g: Graph, parts: TensorValue[], dim: number): TensorValue {
  const d = normDim(dim, parts[0].shape.length);
  let total = 0;
  for (const p of parts) {
    if (p.shape.length !== parts[0].shape.length || p.shape.some((s, i) => i !== d && !sameDim(s, parts[0].shape[i])))
      throw new ExecuTorchError('Internal', `cat of ${parts.map((t) => shapeString(t.shape)).join(', ')}`);
    if (isSym(p.shape[d])) throw new ExecuTorchError('Internal', 'cat along a symbolic dim');
    total += p.shape[d] as number;
  }
  const shape: Dim[] = [...parts[0].shape];
  shape[d] = total;
  return g.call('aten::cat', 'out', [arg.tensors(parts), arg.int(d)], [g.activation(parts[0].dtype, shape)]);
}
