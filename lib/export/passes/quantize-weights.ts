// Weight quantization math, as torchao computes it for the qlinear / qembedding
// configs optimum-executorch uses: symmetric, scale-only, deterministic, with
// torchao's "hqq_scale_only" choice of scales (optimum's default qparams algorithm):
//
//   start: scale = max(max|w| / qabs, eps) per group (qabs = 8 for int4, 128 for int8)
//   repeat (at most 20 times): q = clamp(round_half_even(w / scale), qmin, qmax);
//       scale = max(sum(w q) / sum(q q), eps) (the least-squares scale for these q;
//       unchanged where sum(q q) = 0); stop once no scale of the tensor moved by more
//       than 1e-5 relative
//   finally q = clamp(round_half_even(w / scale), qmin, qmax)
//
// int4 groups of 32 (8da4w, 4w), int8 rows (8da8w, 8w, qembedding 8w) and int4 rows
// (qembedding 4w). XNNPACK's packing and bf16 rounding are the payload writer's
// (pte/xnnpack-writer); the quantized_decomposed kernels' int4 packing is here. Every
// operation is float32 as in torch, the two sums included, which are added in torch's
// own order (torch-sum.ts): codes and scales equal torchao's bit for bit
// (test/fixtures/hqq, made by tools/interop/hqq), hence the official export's bytes.
//
// The exporter calls the *Async functions: the addon's native/export/quantize_symmetric
// computes the same codes and scales bit for bit on worker threads, so the event loop
// stays free (a 1B model's weights take minutes of pure JS). `quantizeSymmetric` below
// stays the reference the native port is tested against.
import { ExecuTorchError, toExecuTorchError } from '../../runtime/errors';
import { native } from '../../runtime/native';
import { torchRowSum } from './torch-sum';

const F32_EPS = 1.1920928955078125e-7;

export interface QuantizedRows {
  /** [rows][cols] quantized values. */
  q: Int8Array;
  /** [rows][groupsPerRow] float32 scales. */
  scales: Float32Array;
  rows: number;
  cols: number;
  groupSize: number;
}

/** round half to even, as torch.round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const HQQ_ITERATIONS = 20;
const HQQ_TOLERANCE = 1e-5;

/**
 * Symmetric quantization of a [rows, cols] float32 matrix in groups of `groupSize`
 * columns (groupSize = cols: one scale per row) to [qmin, qmax], scales by HQQ.
 */
export function quantizeSymmetric(w: Float32Array, rows: number, cols: number, groupSize: number, qmin: number, qmax: number): QuantizedRows {
  if (cols % groupSize !== 0)
    throw new ExecuTorchError('InvalidArgument', `${cols} input channels are not a multiple of the group size ${groupSize}`);
  const groups = (rows * cols) / groupSize;
  const q = new Int8Array(rows * cols);
  const qabs = Math.max(Math.abs(qmin), Math.abs(qmax));
  let scales = new Float32Array(groups);
  for (let gi = 0; gi < groups; gi++) {
    let maxAbs = 0;
    for (let c = 0; c < groupSize; c++) maxAbs = Math.max(maxAbs, Math.abs(w[gi * groupSize + c]));
    scales[gi] = Math.max(Math.fround(maxAbs / qabs), F32_EPS);
  }
  const quantizeGroup = (gi: number, scale: number) => {
    for (let c = 0; c < groupSize; c++) {
      const i = gi * groupSize + c;
      q[i] = Math.min(qmax, Math.max(qmin, roundHalfEven(Math.fround(w[i] / scale))));
    }
  };
  const products = new Float32Array(groupSize);
  const squares = new Float32Array(groupSize);
  for (let it = 0; it < HQQ_ITERATIONS; it++) {
    const next = new Float32Array(groups);
    let moved = 0;
    for (let gi = 0; gi < groups; gi++) {
      quantizeGroup(gi, scales[gi]);
      for (let c = 0; c < groupSize; c++) {
        const i = gi * groupSize + c;
        products[c] = w[i] * q[i];  // stored as float32: the rounded product
        squares[c] = q[i] * q[i];
      }
      const num = torchRowSum(products, 0, groupSize);
      const den = torchRowSum(squares, 0, groupSize);
      const ls = den > 0 ? Math.fround(num / den) : scales[gi];
      next[gi] = Math.abs(Math.max(ls, F32_EPS));
      // float32 as torch: |next - prev| rounded, then divided
      moved = Math.max(moved, Math.fround(Math.fround(Math.abs(next[gi] - scales[gi])) / Math.max(scales[gi], F32_EPS)));
    }
    scales = next;
    if (moved < HQQ_TOLERANCE) break;
  }
  for (let gi = 0; gi < groups; gi++) quantizeGroup(gi, scales[gi]);
  return { q, scales, rows, cols, groupSize };
}

function checkShape(w: Float32Array, rows: number, cols: number, groupSize: number): void {
  if (cols % groupSize !== 0)
    throw new ExecuTorchError('InvalidArgument', `${cols} input channels are not a multiple of the group size ${groupSize}`);
  if (w.length !== rows * cols) throw new ExecuTorchError('InvalidArgument', `${w.length} weights for [${rows}, ${cols}]`);
}

/**
 * `quantizeSymmetric` computed by the addon off the main thread (the same codes and
 * scales, bit for bit). `w` must not change until the Promise settles.
 */
export async function quantizeSymmetricAsync(
  w: Float32Array,
  rows: number,
  cols: number,
  groupSize: number,
  qmin: number,
  qmax: number,
): Promise<QuantizedRows> {
  checkShape(w, rows, cols, groupSize);
  const addon = native();
  try {
    const { q, scales } = await addon.quantizeSymmetric(w, rows, cols, groupSize, qmin, qmax);
    return { q, scales, rows, cols, groupSize };
  } catch (err) {
    throw toExecuTorchError(err);
  }
}

export const quantizeInt4GroupsAsync = (w: Float32Array, rows: number, cols: number, groupSize: number) =>
  quantizeSymmetricAsync(w, rows, cols, groupSize, -8, 7);

export const quantizeInt8RowsAsync = (w: Float32Array, rows: number, cols: number) => quantizeSymmetricAsync(w, rows, cols, cols, -128, 127);

export const quantizeInt4RowsAsync = (w: Float32Array, rows: number, cols: number) => quantizeSymmetricAsync(w, rows, cols, cols, -8, 7);

/**
 * Bytes of float32 weights as a Float32Array: a view when they are aligned (a fresh
 * read from the checkpoint is), a copy otherwise.
 */
export function floatsOf(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new ExecuTorchError('Internal', `${bytes.byteLength} bytes are not float32 values`);
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export const quantizeInt4Groups = (w: Float32Array, rows: number, cols: number, groupSize: number) =>
  quantizeSymmetric(w, rows, cols, groupSize, -8, 7);

export const quantizeInt8Rows = (w: Float32Array, rows: number, cols: number) => quantizeSymmetric(w, rows, cols, cols, -128, 127);

/** One int4 scale per row: torchao IntxWeightOnlyConfig(int4, PerAxis(0)), optimum's qembedding '4w'. */
export const quantizeInt4Rows = (w: Float32Array, rows: number, cols: number) => quantizeSymmetric(w, rows, cols, cols, -8, 7);

/**
 * int4 codes as quantized_decomposed::embedding_4bit reads them (and torchao's
 * embedding quantizer writes them): each row [rows, cols / 2] bytes, value + 8 per
 * nibble, element 2k in the HIGH nibble and 2k + 1 in the low one. (XNNPACK's qbint4
 * filters put element 2k in the low nibble instead.)
 */
export function packInt4HighFirst(q: Int8Array, rows: number, cols: number): Uint8Array {
  if (cols % 2 !== 0) throw new ExecuTorchError('NotSupported', `int4 rows of ${cols} values: two per byte needs an even count`);
  if (q.length !== rows * cols) throw new ExecuTorchError('Internal', `packInt4HighFirst: ${q.length} values for [${rows}, ${cols}]`);
  const out = new Uint8Array(q.length / 2);
  for (let k = 0; k < out.length; k++) {
    const hi = q[2 * k] + 8;
    const lo = q[2 * k + 1] + 8;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) throw new ExecuTorchError('Internal', `packInt4HighFirst: ${q[2 * k]}, ${q[2 * k + 1]} are not int4`);
    out[k] = (hi << 4) | lo;
  }
  return out;
}

async function packInt4Async(q: Int8Array, rows: number, cols: number, highFirst: boolean): Promise<Uint8Array> {
  if (highFirst && cols % 2 !== 0) throw new ExecuTorchError('NotSupported', `int4 rows of ${cols} values: two per byte needs an even count`);
  if (q.length !== rows * cols) throw new ExecuTorchError('Internal', `packInt4: ${q.length} values for [${rows}, ${cols}]`);
  const addon = native();
  try {
    return await addon.packInt4(q, rows, cols, highFirst);
  } catch (err) {
    throw toExecuTorchError(err);
  }
}

/** `packInt4HighFirst` on a worker thread (the same bytes). */
export const packInt4HighFirstAsync = (q: Int8Array, rows: number, cols: number) => packInt4Async(q, rows, cols, true);

/** pte/xnnpack-writer's `packInt4ForXnnpack` (low nibble first, rows padded to whole bytes) on a worker thread. */
export const packInt4ForXnnpackAsync = (q: Int8Array, rows: number, cols: number) => packInt4Async(q, rows, cols, false);
