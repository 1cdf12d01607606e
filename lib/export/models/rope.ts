// Rotary position embedding tables, computed at export time: cos and sin of
// position * inv_freq for every position up to max_seq_len, laid out as Hugging
// Face's rotate-half form uses them ([pos, D] with the D/2 frequencies repeated).
import { ExecuTorchError } from '../../runtime/errors';
import { RopeSpec } from './decoder-spec';

export function inverseFrequencies(headDim: number, rope: RopeSpec): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  // transformers computes theta ** (arange(0, D, 2) / D) in float32, then 1 / that.
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(Math.pow(rope.theta, Math.fround((2 * i) / headDim))));
  const s = rope.scaling;
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = Math.fround(inv[i] / s.factor);
  } else if (s.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] = inv[i] / s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
      inv[i] = Math.fround(inv[i]);
    }
  } else if (s.type !== 'none') {
    throw new ExecuTorchError('NotSupported', `RoPE scaling ${(s as { type: string }).type} is not supported`);
  }
  return inv;
}

/** cos and sin tables [positions, headDim] in float32. */
export function ropeTables(headDim: number, positions: number, rope: RopeSpec): { cos: Float32Array; sin: Float32Array } {
  const inv = inverseFrequencies(headDim, rope);
  const half = headDim / 2;
  const cos = new Float32Array(positions * headDim);
  const sin = new Float32Array(positions * headDim);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      // freqs = position * inv_freq, a float32 product as in transformers.
      const angle = Math.fround(p * inv[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = cos[p * headDim + half + i] = c;
      sin[p * headDim + i] = sin[p * headDim + half + i] = s;
    }
  }
  return { cos, sin };
}

/**
 * The [D, D] matrix R with x R^T = rotate_half(x) = cat(-x[D/2:], x[:D/2]), so the
 * rotation runs as one (exact: one +-1 per row) linear inside the XNNPACK partition.
 */
export function rotateHalfMatrix(headDim: number): Float32Array {
  const half = headDim / 2;
  const m = new Float32Array(headDim * headDim);
  for (let e = 0; e < headDim; e++) {
    if (e < half) m[e * headDim + e + half] = -1;
    else m[e * headDim + e - half] = 1;
  }
  return m;
}
