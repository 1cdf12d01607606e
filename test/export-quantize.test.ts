// Weight quantization of the exporter against the official toolchain: the tiny
// Llama checkpoint (test/fixtures/checkpoints/llama) is the same seeded model the
// interop fixtures exported with optimum-executorch, and the official XNNPACK
// serializer stores each weight under the sha256 of its bytes. So our bytes are
// right exactly when their sha256 is one of the official program's named-data keys.
//
// Weight-only schemes (qlinear 8w / 4w, qembedding 4w): the codes and scales against a
// scalar transcription of torchao's formula, the qembedding 4w table against the
// official export's bytes, and whole exports of the tiny checkpoints against (a) the
// same model exported as float from the dequantized weights (must agree to float
// precision: this is what catches a wrong layout, packing or scale), (b) transformers'
// float logits (within the distance of the dynamically quantized export of the same
// weights, see below), and (c) the official runtime running the very same file
// (through tools/interop/pte_roundtrip).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecuTorchModelForCausalLM, Program, Tensor, exportToExecuTorchWithXnnpack, loadCausalLMModel } from '../lib';
import { readProgram } from '../lib/export/pte/program-reader';
import {
  packInt4HighFirst,
  quantizeInt4Groups,
  quantizeInt4Rows,
  quantizeInt8Rows,
  quantizeSymmetric,
} from '../lib/export/passes/quantize-weights';
import { float32ToBf16, packInt4ForXnnpack } from '../lib/export/pte/xnnpack-writer';
import { torchRowSum } from '../lib/export/passes/torch-sum';
import { writeFakeQuantizedCheckpoint } from './helpers/fake-quantized-checkpoint';
import { FLOAT_RTOL, argmax, maxAbs, maxAbsDiff } from './helpers/interop';
import { officialResult, recordRun, toJsonValue } from './helpers/pte-roundtrip';
import { repoRoot } from './helpers/paths';

const checkpoint = path.join(repoRoot, 'test', 'fixtures', 'checkpoints', 'llama', 'model.safetensors');
const interop = path.join(repoRoot, 'test', 'fixtures', 'interop');

// Just enough safetensors to read float32 tensors of a small file.
function readF32(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || t.dtype !== 'F32') continue;
    const bytes = b.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) });
  }
  return out;
}

async function namedDataKeys(file: string): Promise<Set<string>> {
  const program = await Program.load(file);
  try {
    return new Set(program.info.namedData.map((d: { key: string }) => d.key));
  } finally {
    program.dispose();
  }
}

async function namedDataBlobs(file: string): Promise<Array<{ key: string; bytes: Uint8Array }>> {
  const program = await Program.load(file);
  try {
    const bytes = fs.readFileSync(file);
    const { namedData, segments } = program.info as {
      namedData: Array<{ key: string; segment: number; size: number }>;
      segments: Array<{ offset: number; size: number }>;
    };
    return namedData.map((d) => ({ key: d.key, bytes: bytes.subarray(segments[d.segment].offset, segments[d.segment].offset + d.size) }));
  } finally {
    program.dispose();
  }
}

// Largest distance in units in the last place between two float32 arrays.
function maxUlps(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(ia[i] - ib[i]));
  return m;
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const linears = (w: Map<string, { shape: number[] }>) =>
  [...w.keys()].filter((k) => /layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight$/.test(k) || k === 'lm_head.weight');

describe('weight quantization', () => {
  const weights = readF32(checkpoint);

  it('8da4w: int4 groups of 32 packed low-nibble-first and bf16 scales are byte-identical to the official export', async () => {
    const keys = await namedDataKeys(path.join(interop, 'llama.ql-8da4w.qe-none.pte'));
    const names = linears(weights);
    expect(names.length).toBe(15);
    for (const name of names) {
      const { shape, data } = weights.get(name)!;
      const q = quantizeInt4Groups(data, shape[0], shape[1], 32);
      expect(keys.has(sha(packInt4ForXnnpack(q.q, shape[0], shape[1]))), `${name} weights`).toBe(true);
      const bf16 = float32ToBf16(q.scales);
      expect(keys.has(`scale_${sha(new Uint8Array(bf16.buffer))}`), `${name} scales`).toBe(true);
    }
  });

  it('8da8w: int8 per output channel codes and float32 scales are byte-identical', async () => {
    // torch's float32 sums added in torch's order (torch-sum.ts) give its scales exactly.
    const file = path.join(interop, 'llama.ql-8da8w.qe-none.pte');
    const keys = await namedDataKeys(file);
    const blobs = await namedDataBlobs(file);
    for (const name of linears(weights)) {
      const { shape, data } = weights.get(name)!;
      const q = quantizeInt8Rows(data, shape[0], shape[1]);
      expect(keys.has(sha(new Uint8Array(q.q.buffer))), `${name} weights`).toBe(true);
      const candidates = blobs.filter((b) => b.key.startsWith('scale_') && b.bytes.length === q.scales.length * 4);
      const ulps = candidates.map((b) => maxUlps(new Float32Array(Uint8Array.from(b.bytes).buffer), q.scales));
      expect(Math.min(...ulps), `${name} scales`).toBe(0);
    }
  });

  it('keeps all-zero groups at scale eps and finds the least-squares scale', () => {
    // Row 1 is exactly 0.5 * [14, -4, 1, -16]: HQQ settles on scale 0.5 and those codes
    // (the max-abs start, 8 / 8 = 1, would round 0.5 up to... 0 and lose precision).
    const w = Float32Array.from([0, 0, 0, 0, 7, -2, 0.5, -8]);
    const q = quantizeSymmetric(w, 2, 4, 4, -16, 15);
    expect(Array.from(q.q)).toEqual([0, 0, 0, 0, 14, -4, 1, -16]);
    expect(q.scales[0]).toBe(1.1920928955078125e-7);
    expect(q.scales[1]).toBe(0.5);
    expect(Array.from(float32ToBf16(Float32Array.from([1, 1.00390625, 1.01171875, -0]))).map((x) => x.toString(16))).toEqual([
      '3f80', '3f80', '3f82', '8000',
    ]);
  });
});

// ---------------------------------------------------------------------------
// Weight-only schemes.

/**
 * torchao's _choose_qparams_and_quantize_scale_only_hqq for one [rows, cols] weight,
 * transcribed op by op as a plain scalar loop (float32 results via Math.fround; the
 * two sums over a group in float64, rounded once): scale = max|w| / qabs, then up to
 * 20 rounds of q = clamp(round_half_even(w / scale)), scale = sum(w q) / sum(q q)
 * (previous scale where sum(q q) = 0), clamped to >= eps, stopping when the largest
 * relative change over the whole tensor is below 1e-5. The two sums are torch float32
 * reductions, taken in torch's order (torchRowSum; test/export-hqq-torchao.test.ts
 * checks that order and the whole quantizer against torchao itself).
 */
function torchaoScaleOnlyHqq(w: Float32Array, rows: number, cols: number, group: number, qmin: number, qmax: number) {
  const eps = 2 ** -23;
  const f = Math.fround;
  const rne = (x: number) => {
    const fl = Math.floor(x);
    const d = x - fl;
    return d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  };
  const nGroups = (rows * cols) / group;
  const code = (i: number, s: number) => Math.min(qmax, Math.max(qmin, rne(f(w[i] / s))));
  let scale: number[] = [];
  for (let gi = 0; gi < nGroups; gi++) {
    let m = 0;
    for (let k = 0; k < group; k++) m = Math.max(m, Math.abs(w[gi * group + k]));
    scale.push(Math.max(f(m / Math.max(-qmin, qmax)), eps));
  }
  for (let it = 0; it < 20; it++) {
    const next: number[] = [];
    let rel = 0;
    for (let gi = 0; gi < nGroups; gi++) {
      const products: number[] = [];
      const squares: number[] = [];
      for (let k = 0; k < group; k++) {
        const i = gi * group + k;
        const q = code(i, scale[gi]);
        products.push(f(w[i] * q));
        squares.push(q * q);
      }
      const num = torchRowSum(products, 0, group);
      const den = torchRowSum(squares, 0, group);
      const s = Math.abs(Math.max(den > 0 ? f(num / den) : scale[gi], eps));
      rel = Math.max(rel, f(f(Math.abs(s - scale[gi])) / Math.max(scale[gi], eps)));
      next.push(s);
    }
    scale = next;
    if (rel < 1e-5) break;
  }
  const q = Array.from({ length: rows * cols }, (_, i) => code(i, scale[Math.floor(i / group)]));
  return { q, scales: scale };
}

/** Deterministic values with some structure: mixed magnitudes, a zero row, exact ties. */
function testMatrix(rows: number, cols: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) w[r * cols + c] = r === 1 ? 0 : (rand() - 0.5) * (r % 3 === 0 ? 0.02 : 1.5) * (c % 17 === 0 ? 4 : 1);
  w[2 * cols + 3] = 0.25;  // exact halves of a step appear in some group
  return w;
}

describe('weight-only quantization codes and scales', () => {
  const rows = 9;
  const cols = 96;
  const w = testMatrix(rows, cols, 7);
  it.each([
    ['qlinear 8w: int8 per output channel', () => quantizeInt8Rows(w, rows, cols), cols, -128, 127],
    ['qlinear 4w: int4 groups of 32', () => quantizeInt4Groups(w, rows, cols, 32), 32, -8, 7],
    ['qembedding 4w: int4 per row', () => quantizeInt4Rows(w, rows, cols), cols, -8, 7],
  ] as const)('%s equal the scalar torchao reference', (_what, run, group, qmin, qmax) => {
    const ours = run();
    const ref = torchaoScaleOnlyHqq(w, rows, cols, group, qmin, qmax);
    expect(Array.from(ours.q)).toEqual(ref.q);
    expect(Array.from(ours.scales)).toEqual(ref.scales);
    // and they are a quantization of w: every value within half a step of code * scale
    for (let i = 0; i < w.length; i++) {
      const s = ours.scales[Math.floor(i / group)];
      const clamped = Math.min(qmax * s, Math.max(qmin * s, w[i]));
      expect(Math.abs(ours.q[i] * s - clamped)).toBeLessThanOrEqual(s / 2 + 1e-6);
    }
  });

  it('packs int4 as embedding_4bit reads it: value + 8, element 2k in the high nibble', () => {
    expect(Array.from(packInt4HighFirst(Int8Array.from([-8, 7, 0, -1, 3, -4]), 1, 6))).toEqual([0x0f, 0x87, 0xb4]);
    expect(() => packInt4HighFirst(Int8Array.from([1, 2, 3]), 1, 3)).toThrow(/even/);
  });

  it('qembedding 4w: codes and float32 scales byte-identical to the official qwen3 export', async () => {
    const file = path.join(interop, 'qwen3.ql-8da4w.qe-4w.pte');
    const spec = readProgram(new Uint8Array(fs.readFileSync(file)));
    const forward = spec.methods.find((m) => m.name === 'forward')!;
    const call = forward.chains[0].instructions.find(
      (i) => i.kind === 'kernel' && forward.operators[i.op].name === 'quantized_decomposed::embedding_4bit',
    );
    if (!call || call.kind !== 'kernel') throw new Error('no embedding_4bit call in the official export');
    const tensorOf = (v: number) => {
      const e = forward.values[v];
      if (e.kind !== 'tensor' || e.tensor.constant === undefined) throw new Error(`value ${v} is not a constant tensor`);
      return e.tensor;
    };
    const [codesT, scalesT] = [tensorOf(call.args[0]), tensorOf(call.args[1])];
    expect([codesT.dtype, codesT.sizes, scalesT.dtype, scalesT.sizes]).toEqual(['uint8', [512, 32], 'float32', [512, 1]]);
    const table = readF32(path.join(repoRoot, 'test', 'fixtures', 'checkpoints', 'qwen3', 'model.safetensors')).get('model.embed_tokens.weight')!;
    const q = quantizeInt4Rows(table.data, table.shape[0], table.shape[1]);
    const officialCodes = Uint8Array.from(await spec.constants[codesT.constant!].read());
    expect(sha(packInt4HighFirst(q.q, table.shape[0], table.shape[1]))).toBe(sha(officialCodes));
    const officialScales = new Float32Array(Uint8Array.from(await spec.constants[scalesT.constant!].read()).buffer);
    expect(maxUlps(officialScales, q.scales)).toBe(0);
  });

  it("the official 8w export is int8 in groups of 32 stored as float codes without scales (why ours differs)", async () => {
    // optimum-executorch's --qlinear 8w = IntxWeightOnlyConfig(int8, PerGroup(32)); the
    // executorch 1.5.1 XNNPACK lowering then drops the dequantize and keeps the codes as
    // fp32 weights (test/fixtures/interop/INDEX.json, knownIssue). Every linear weight of
    // that file is exactly our int8 group-32 codes, as floats.
    const spec = readProgram(new Uint8Array(fs.readFileSync(path.join(interop, 'llama.ql-8w.qe-none.pte'))));
    const blobs = await Promise.all(spec.namedData.map(async (d) => new Float32Array(Uint8Array.from(await d.source.read()).buffer)));
    const names = linears(weights);
    for (const name of names) {
      const { shape, data } = weights.get(name)!;
      const q = quantizeSymmetric(data, shape[0], shape[1], 32, -128, 127).q;
      expect(blobs.some((b) => b.length === q.length && b.every((x, i) => x === q[i])), name).toBe(true);
    }
  });
});

const weights = readF32(checkpoint);
const checkpoints = path.join(repoRoot, 'test', 'fixtures', 'checkpoints');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-weight-only-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// Tokens per forward call: Gemma 3's sliding-window ring takes at most a window (8) of
// new positions per call, so every model is fed in chunks of 8.
const CHUNK = 8;

async function logitsOf(pte: string, tokens: number[]): Promise<Float32Array> {
  const model = await ExecuTorchModelForCausalLM.fromPretrained(pte, { threads: 1 });
  try {
    const parts: Float32Array[] = [];
    for (let start = 0; start < tokens.length; start += CHUNK)
      parts.push((await model.forward(tokens.slice(start, start + CHUNK), start)).data as Float32Array);
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  } finally {
    model.dispose();
  }
}

async function exportTo(dir: string, file: string, options: Parameters<typeof loadCausalLMModel>[1]): Promise<string> {
  const outputPath = path.join(work, file);
  const module = await loadCausalLMModel(dir, { maxSeqLen: 64, ...options });
  await exportToExecuTorchWithXnnpack(module, { outputPath }).finally(() => module.close());
  return outputPath;
}

/**
 * The program as the official runtime gets it (tools/interop/pte_roundtrip): prefill of
 * the sequence in chunks, as cases run in order on one loaded method. The official
 * result, once recorded for these bytes, must be within float tolerance of ours
 * (weight-only programs quantize no activation, so nothing can flip between runtimes).
 */
async function checkInOfficialRuntime(name: string, pte: string, tokens: number[]): Promise<string> {
  const bytes = new Uint8Array(fs.readFileSync(pte));
  const program = await Program.load(bytes, { threads: 1 });
  const recorded = [];
  try {
    for (let start = 0; start < tokens.length; start += CHUNK) {
      const ids = tokens.slice(start, start + CHUNK);
      const inputs = [new Tensor(BigInt64Array.from(ids, BigInt), [1, ids.length]), new Tensor(BigInt64Array.from(ids, (_, i) => BigInt(start + i)), [ids.length])];
      const outputs = await program.execute('forward', inputs);
      recorded.push({ method: 'forward', inputs: inputs.map(toJsonValue), outputs: outputs.map(toJsonValue) });
    }
  } finally {
    program.dispose();
  }
  recordRun(name, bytes, recorded, { rtol: FLOAT_RTOL });
  const official = officialResult(name);
  if (!official) return 'official runtime: not recorded (tools/interop/pte_roundtrip/run_in_official.py --record)';
  if (official.sha256 !== sha(bytes)) return 'official runtime: STALE record (the exporter changed since; re-record)';
  expect(official.load.ok, `official runtime failed to load ${name}: ${official.load.error}`).toBe(true);
  expect(official.cases.length).toBe(recorded.length);
  for (const c of official.cases) {
    expect(c.ok, `${name}: ${c.error}`).toBe(true);
    expect(c.withinTolerance, `${name}: official vs ours ${c.maxAbsDiffVsOurs}`).toBe(true);
  }
  return `official runtime: max |official - ours| ${Math.max(...official.cases.map((c) => c.maxAbsDiffVsOurs ?? 0)).toExponential(2)}`;
}

// Bound against transformers' float logits: the weight-only program must be at least as
// close to float as the dynamically quantized program with the same weight codes
// (8da8w for 8w, 8da4w for 4w; 8da4w is what the existing tests check against the
// official export), which adds int8 activation rounding on top. Slack of 25%: the two
// errors do not add monotonically, and the tiny random models have logit gaps of
// 4e-4 (llama), so top-1 against float is not asserted (the official 8da4w exports
// themselves agree with float at 6/7, 2/7 and 2/7 positions); top-1 is asserted against
// the float export of the dequantized weights instead.
const SLACK = 1.25;

// Qwen 2 has biases on q, k and v: f32_qc8w scales the bias too, so 8w writes bias / scale.
describe.each(['llama', 'qwen2', 'qwen3', 'gemma3'])('%s weight-only exports', (name) => {
  const dir = path.join(checkpoints, name);
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as { sequence: number[]; logits: { data: string } };
  const b = Buffer.from(ref.logits.data, 'base64');
  const transformers = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const floatSize = () => fs.statSync(path.join(work, `${name}.float.pte`)).size;

  it('float export (for sizes)', async () => {
    await exportTo(dir, `${name}.float.pte`, {});
  });

  it.each([
    ['8w', null],
    ['8w', '8w'],
    ['8w', '4w'],
    ['4w', null],
    ['4w', '8w'],
    ['4w', '4w'],
  ] as const)('qlinear %s, qembedding %s', async (qlinear, qembedding) => {
    const tag = `${qlinear}.qe-${qembedding ?? 'none'}`;
    const pte = await exportTo(dir, `${name}.${tag}.pte`, { qlinear, qembedding: qembedding ?? undefined });
    const ours = await logitsOf(pte, ref.sequence);
    const vocab = ours.length / ref.sequence.length;

    // (a) the float program of the dequantized weights: same top-1 everywhere, float precision
    const fakeDir = path.join(work, `${name}.${tag}.fake`);
    writeFakeQuantizedCheckpoint(dir, fakeDir, qlinear, qembedding);
    const fake = await logitsOf(await exportTo(fakeDir, `${name}.${tag}.fake.pte`, {}), ref.sequence);
    for (let row = 0; row < ref.sequence.length; row++)
      expect(argmax(ours, vocab, row), `top-1 at ${row} vs the dequantized float model`).toBe(argmax(fake, vocab, row));
    const vsFake = maxAbsDiff(ours, fake);
    expect(vsFake).toBeLessThanOrEqual(FLOAT_RTOL * maxAbs(fake));

    // (b) transformers' float logits
    const dynamic = qlinear === '8w' ? '8da8w' : '8da4w';
    const dyn = await logitsOf(await exportTo(dir, `${name}.${dynamic}.qe-${qembedding ?? 'none'}.pte`, { qlinear: dynamic, qembedding: qembedding ?? undefined }), ref.sequence);
    const bound = SLACK * maxAbsDiff(dyn, transformers);
    const vsFloat = maxAbsDiff(ours, transformers);
    let top1 = 0;
    for (let row = 0; row < ref.sequence.length; row++) if (argmax(ours, vocab, row) === argmax(transformers, vocab, row)) top1++;
    expect(vsFloat).toBeLessThanOrEqual(bound);

    // (c) the official runtime on this file
    const official = await checkInOfficialRuntime(`exported_${name}.${tag}`, pte, ref.sequence);
    const size = fs.statSync(pte).size;
    console.log(
      `${name} ${tag}: vs dequantized float ${vsFake.toExponential(2)}; vs transformers ${vsFloat.toExponential(2)} ` +
        `(bound ${bound.toExponential(2)} = ${SLACK} x ${dynamic}), top-1 = transformers at ${top1}/${ref.sequence.length}; ` +
        `${size} bytes (${((100 * size) / floatSize()).toFixed(0)}% of float); ${official}`,
    );
  });
});
