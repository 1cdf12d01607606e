// The interop fixtures (test/fixtures/interop, made by tools/interop/llm):
// official optimum-executorch exports of tiny random checkpoints with the official
// runtime's outputs, and the comparisons the tests make against them.
import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'vitest';
import { Tensor } from '../../lib';
import { repoRoot } from './paths';

export const interopDir = path.join(repoRoot, 'test', 'fixtures', 'interop');

export interface InteropFixture {
  name: string;
  pte: string;
  json: string;
  task: string;
  qlinear: string | null;
  qembedding: string | null;
  methods: string[];
}

export interface RefTensor {
  dtype: string;
  shape: number[];
  data: string;
}

export const interopFixtures: InteropFixture[] = fs.existsSync(path.join(interopDir, 'INDEX.json'))
  ? (JSON.parse(fs.readFileSync(path.join(interopDir, 'INDEX.json'), 'utf8')) as { fixtures: InteropFixture[] }).fixtures
  : [];

export function readReference<T>(fixtureName: string): T {
  return JSON.parse(fs.readFileSync(path.join(interopDir, `${fixtureName}.json`), 'utf8')) as T;
}

export function floats(t: RefTensor): Float32Array {
  const b = Buffer.from(t.data, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

export function refTensor(t: RefTensor): Tensor {
  const b = Buffer.from(t.data, 'base64');
  const bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  if (t.dtype === 'float32') return new Tensor(new Float32Array(bytes), t.shape);
  if (t.dtype === 'int64') return new Tensor(new BigInt64Array(bytes), t.shape);
  throw new Error(`reference tensor of dtype ${t.dtype}`);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Index of the largest value of row `row` of a [rows, width] array. */
export function argmax(a: ArrayLike<number>, width: number, row = 0): number {
  let best = 0;
  for (let v = 1; v < width; v++) if (a[row * width + v] > a[row * width + best]) best = v;
  return best;
}

/** The float export of the same checkpoint as a quantized fixture ('llama.ql-8da4w.qe-8w' -> 'llama.ql-none.qe-none'). */
export function floatCounterpart(name: string): string {
  return `${name.split('.')[0]}.ql-none.qe-none`;
}

// Float programs: 1e-4 relative to the output's largest magnitude (XNNPACK and our
// attention sum in other orders than the official kernels).
export const FLOAT_RTOL = 1e-4;

// Quantized programs: per-row int8 activations make the result discontinuous in its
// input, so the last-bit differences that float programs show can flip one
// activation's rounding at some position, and later positions inherit it. Bound: a
// tenth of the official quantized export's own distance from the official float
// export of the same checkpoint (and never tighter than the float bound).
export const QUANT_FRACTION = 0.1;

/** The largest difference from the official output a test accepts. */
export function tolerance(fixture: InteropFixture, official: Float32Array, officialFloat: () => Float32Array): number {
  const floatBound = FLOAT_RTOL * maxAbs(official);
  if (!fixture.qlinear && !fixture.qembedding) return floatBound;
  return Math.max(floatBound, QUANT_FRACTION * maxAbsDiff(officialFloat(), official));
}
