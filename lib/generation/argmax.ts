import { ExecuTorchError } from '../runtime/errors';
import { Tensor } from '../runtime/tensor';

/** Index of the largest logit in row `row` of a [1, S, V] (or [S, V]) logits tensor; first max wins. */
export function argmaxRow(logits: Tensor, row: number): number {
  const vocab = logits.shape[logits.shape.length - 1];
  const rows = logits.numel / vocab;
  if (!Number.isInteger(row) || row < 0 || row >= rows)
    throw new ExecuTorchError('InvalidArgument', `row ${row} out of range for logits [${logits.shape.join(', ')}]`);
  const data = logits.dtype === 'float32' ? (logits.data as Float32Array) : logits.toFloat32();
  const base = row * vocab;
  let best = 0;
  let bestValue = data[base];
  for (let i = 1; i < vocab; i++) {
    const v = data[base + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
