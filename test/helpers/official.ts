// Reference outputs of the official ExecuTorch runtime (tools/interop), and
// the .pte/.ptd pairs of the wild fixtures.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../../lib';
import { DType, isDType, typedArrayCtor } from '../../lib/runtime/dtype';
import { repoRoot } from './paths';

const DATA_FILES: Record<string, string> = {
  'barakugav__executorch-rs/examples__data_map__model__model@48b2595c3c.pte':
    'barakugav__executorch-rs/examples__data_map__model___default_external_constant@48b2595c3c.ptd',
  'pytorch__executorch/extension__android__executorch_android__src__androidTest__resources__xor@9c80c531da.pte':
    'pytorch__executorch/extension__android__executorch_android__src__androidTest__resources__xor@9c80c531da.ptd',
  'pytorch__executorch/extension__module__test__resources__linear@3e188fe119.pte':
    'pytorch__executorch/extension__module__test__resources__linear@3e188fe119.ptd',
};

export function pairedDataFile(pte: string): string | undefined {
  return DATA_FILES[pte];
}

export const officialDir = path.join(repoRoot, 'test', 'fixtures', 'official');

export interface OfficialTensor {
  type: 'tensor';
  dtype: string;
  shape: number[];
  data?: string;
  generator?: { kind: 'sin'; scale: number; offset: number; sha256: string };
  summary?: { sum: number; absSum: number; min: number; max: number; sampleStride: number; samples: string };
}
export type OfficialValue =
  | OfficialTensor
  | { type: 'int'; value: number }
  | { type: 'double'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'none' };

export interface OfficialCase {
  name: string;
  inputs: OfficialValue[];
  outputs?: OfficialValue[];
  expectError?: boolean;
  error?: { stage: string; message: string; log?: string[] };
}

export interface OfficialFixture {
  file: string;
  load: { ok: boolean; error?: string; stage?: string; message?: string; log?: string[] };
  methods: Record<string, { cases?: OfficialCase[]; error: null | { stage: string; message: string; log?: string[] } }>;
}

export function officialFixture(pte: string): OfficialFixture | undefined {
  const file = path.join(officialDir, pte.replace(/\//g, '__').replace(/\.[a-z]+$/, '') + '.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as OfficialFixture) : undefined;
}

function typedFromBase64(dtype: DType, b64: string): ArrayBufferView {
  const buf = Buffer.from(b64, 'base64');
  const copy = new ArrayBuffer(buf.length);
  new Uint8Array(copy).set(buf);
  const Ctor = typedArrayCtor(dtype);
  return new Ctor(copy, 0, buf.length / Ctor.BYTES_PER_ELEMENT);
}

/** An official input as a value for Program.execute (tensors rebuilt from data or generator). */
export function officialInput(v: OfficialValue): Tensor | number | boolean | string | null {
  if (v.type !== 'tensor') return v.type === 'none' ? null : v.value;
  if (!isDType(v.dtype)) throw new Error(`fixture dtype ${v.dtype}`);
  if (v.data !== undefined) return new Tensor(typedFromBase64(v.dtype, v.data) as never, v.shape, v.dtype);
  const g = v.generator!;
  const n = v.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(Math.sin(i * g.scale + g.offset));
  return new Tensor(data, v.shape, 'float32');
}

export interface Comparison {
  maxRelError: number; // max |a-b| / |b| over elements where |b| >= floor
  maxAbsError: number;
  mismatches: string[];
}

/**
 * Compares our output with the official one. Floats: |a - b| <= rtol * max(|b|, floor)
 * with floor = 1% of the tensor's largest magnitude. Why the floor: an output
 * that is a long sum cancelling to near zero carries the official runtime's own
 * float32 rounding (about K * eps * sum|terms|), which no bound relative to the
 * small result can hold; 1% of the tensor's scale keeps such elements to an
 * absolute bound of rtol * scale / 100. Integers and bools: exact.
 */
export function compareOutput(ours: unknown, ref: OfficialValue, rtol: number): Comparison {
  const result: Comparison = { maxRelError: 0, maxAbsError: 0, mismatches: [] };
  if (ref.type !== 'tensor') {
    const value = ref.type === 'none' ? null : ref.value;
    if (ref.type === 'double' ? Math.abs(Number(ours) - Number(value)) > rtol * Math.abs(Number(value)) : ours !== value)
      result.mismatches.push(`scalar ${String(ours)} != ${String(value)}`);
    return result;
  }
  if (!(ours instanceof Tensor)) {
    result.mismatches.push(`expected a tensor, got ${String(ours)}`);
    return result;
  }
  if (ours.dtype !== ref.dtype) result.mismatches.push(`dtype ${ours.dtype} != ${ref.dtype}`);
  if (JSON.stringify(ours.shape) !== JSON.stringify(ref.shape)) result.mismatches.push(`shape [${ours.shape}] != [${ref.shape}]`);
  if (result.mismatches.length) return result;
  const floating = ['float32', 'float64', 'float16', 'bfloat16'].includes(ref.dtype);
  const mine = floating ? ours.toFloat32() : (ours.data as ArrayLike<number | bigint>);
  let expected: ArrayLike<number | bigint>;
  let stride = 1;
  if (ref.data !== undefined) {
    const t = new Tensor(typedFromBase64(ref.dtype as DType, ref.data) as never, ref.shape, ref.dtype as DType);
    expected = floating ? t.toFloat32() : (t.data as ArrayLike<number | bigint>);
  } else {
    const s = ref.summary!;
    stride = s.sampleStride;
    const t = typedFromBase64(ref.dtype as DType, s.samples) as unknown as ArrayLike<number>;
    expected = t;
    // Whole-tensor checks against the summary.
    let sum = 0;
    let absSum = 0;
    for (let i = 0; i < mine.length; i++) {
      sum += Number(mine[i]);
      absSum += Math.abs(Number(mine[i]));
    }
    if (Math.abs(sum - s.sum) > rtol * Math.max(s.absSum, 1e-30)) result.mismatches.push(`sum ${sum} != ${s.sum}`);
    if (Math.abs(absSum - s.absSum) > rtol * Math.max(s.absSum, 1e-30)) result.mismatches.push(`absSum ${absSum} != ${s.absSum}`);
  }
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(Number(expected[i])));
  const floor = 1e-2 * scale;
  for (let k = 0; k < expected.length; k++) {
    const a = Number(mine[k * stride]);
    const b = Number(expected[k]);
    if (!floating) {
      if (mine[k * stride] !== expected[k] && a !== b && result.mismatches.length < 5)
        result.mismatches.push(`[${k * stride}] ${String(mine[k * stride])} != ${String(expected[k])}`);
      continue;
    }
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    const abs = Math.abs(a - b);
    const rel = abs / Math.max(Math.abs(b), floor, Number.MIN_VALUE);
    result.maxAbsError = Math.max(result.maxAbsError, abs);
    result.maxRelError = Math.max(result.maxRelError, rel);
    if (!(rel <= rtol) && result.mismatches.length < 5) result.mismatches.push(`[${k * stride}] ${a} != ${b} (rel ${rel.toExponential(2)})`);
  }
  return result;
}
