import { ExecuTorchError } from '../../../runtime/errors';
import { Dim, Shape, isSym, sameDim, shapeString } from '../graph';

/** Numpy broadcasting of two shapes (symbolic dims broadcast only with themselves or 1). */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (sameDim(x, y) || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else throw new ExecuTorchError('Internal', `shapes ${shapeString(a)} and ${shapeString(b)} do not broadcast`);
  }
  return out;
}

/** A negative dim counted from the end. */
export function normDim(dim: number, rank: number): number {
  const d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank) throw new ExecuTorchError('Internal', `dim ${dim} out of range for rank ${rank}`);
  return d;
}

export function staticDim(d: Dim, what: string): number {
  if (isSym(d)) throw new ExecuTorchError('Internal', `${what} must be static, got ${d.sym}`);
  return d;
}
