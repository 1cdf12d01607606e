// Checkpoint reading for the exporter (lib/export/hf): safetensors single and
// sharded, F32/F16/BF16 read lazily, config.json normalization with transformers'
// defaults in both RoPE layouts, generation_config.json, the three published Gemma 3
// key layouts, and clear errors for every malformed input. Values are checked against
// an independent decode (test/helpers/safetensors-writer.ts parses files itself).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  Checkpoint,
  ModelConfig,
  normalizeConfig,
  normalizeGenerationConfig,
  openCheckpoint,
  ropeForLayer,
  SafetensorsFile,
} from '../lib/export/hf';
import { ExecuTorchError } from '../lib/runtime/errors';
import { repoRoot, sharedDir } from './helpers/paths';
import {
  bits16Tensor,
  encodeRaw,
  encodeSafetensors,
  f32Tensor,
  f32Values,
  parseSafetensorsFile,
  ParsedTensor,
  TensorSpec,
  writeSafetensors,
} from './helpers/safetensors-writer';

const tiny = path.join(sharedDir(), 'fixtures', 'gemma3-tiny');
const smallDir = path.join(tiny, 'small');
const bf16Dir = path.join(tiny, 'small-bf16');
const hfCheckpoints = path.join(repoRoot, 'test', 'fixtures', 'checkpoints');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-hf-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const opened: Checkpoint[] = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});
async function open(dir: string, options?: { validate?: boolean }): Promise<Checkpoint> {
  const c = await openCheckpoint(dir, options);
  opened.push(c);
  return c;
}

let dirCount = 0;
function newDir(name: string): string {
  const d = path.join(work, `${String(++dirCount).padStart(2, '0')}-${name}`);
  fs.mkdirSync(d);
  return d;
}

function readJson(file: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Awaits `p` (or calls it) and checks it fails with an ExecuTorchError of `code` whose message has every part. */
async function expectError(p: Promise<unknown> | (() => unknown), code: string, ...parts: string[]): Promise<ExecuTorchError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(ExecuTorchError);
  const e = err as ExecuTorchError;
  expect(e.code, e.message).toBe(code);
  for (const part of parts) expect(e.message).toContain(part);
  return e;
}

/** Float32 -> nearest-even bfloat16 -> float32, computed on the bits. */
function roundToBf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  const bits = u[0];
  u[0] = (((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16) >>> 0;
  return f[0];
}

/** Round-to-nearest-even float16 of x: its bits and its exact value (independent of lib/runtime/half). */
function toF16(x: number): { bits: number; value: number } {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return { bits: sign, value: sign ? -0 : 0 };
  let e = Math.max(Math.floor(Math.log2(a)), -14);
  if (e > -14 && a < 2 ** e) e--;
  if (a >= 2 ** (e + 1)) e++;
  const quantum = 2 ** (e - 10);
  let q = a / quantum;
  const r = Math.round(q);
  q = Math.abs(q - Math.trunc(q)) === 0.5 && r % 2 === 1 ? r - 1 : r;
  if (q === 2048) {
    q = 1024;
    e++;
  }
  if (e > 15) throw new Error(`${x} overflows f16`);
  const value = (sign ? -1 : 1) * q * 2 ** (e - 10);
  const bits = q < 1024 ? sign | q : sign | ((e + 15) << 10) | (q - 1024);
  return { bits, value };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

function stats(v: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (const x of v) s += x;
  const mean = s / v.length;
  let q = 0;
  for (const x of v) q += (x - mean) ** 2;
  return { mean, std: Math.sqrt(q / v.length) };
}

/** The small checkpoint's tensors, parsed independently, by stored name. */
const smallTensors: ParsedTensor[] = parseSafetensorsFile(path.join(smallDir, 'model.safetensors'));
const smallByName = new Map(smallTensors.map((t) => [t.name, t]));

/** A copy of the small checkpoint (configs + renamed / filtered tensors) in a new folder. */
function copySmall(name: string, rename: (stored: string) => string | null = (n) => n, extra: TensorSpec[] = []): string {
  const dir = newDir(name);
  for (const f of ['config.json', 'generation_config.json']) fs.copyFileSync(path.join(smallDir, f), path.join(dir, f));
  const tensors: TensorSpec[] = [];
  for (const t of smallTensors) {
    const n = rename(t.name);
    if (n !== null) tensors.push({ ...t, name: n });
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors, ...extra]);
  return dir;
}

// ---------------------------------------------------------------------------------------

describe('gemma3-tiny fixtures', () => {
  it('small: config.json and generation_config.json normalize to the README values', async () => {
    const c = await open(smallDir);
    const cfg = c.config;
    expect(cfg.modelType).toBe('gemma3');
    expect(cfg.architectures).toEqual(['Gemma3ForConditionalGeneration']);
    expect(cfg.dtype).toBe('float32');
    expect(cfg.eosTokenIds).toEqual([1, 6]);
    expect(cfg.text).toMatchObject({
      modelType: 'gemma3_text', vocabSize: 384, hiddenSize: 64, intermediateSize: 128, numLayers: 4, numHeads: 4,
      numKvHeads: 2, headDim: 32, queryPreAttnScalar: 32, slidingWindow: 8, rmsNormEps: 1e-6, maxPositionEmbeddings: 512,
      tieWordEmbeddings: true, attentionBias: false, attentionOutputBias: false, qkNorm: true, hiddenAct: 'gelu_pytorch_tanh',
      bosTokenId: 2, eosTokenIds: [1], padTokenId: 0, attnLogitSoftcapping: null, finalLogitSoftcapping: null,
      useBidirectionalAttention: false,
    });
    expect(cfg.text.layerTypes).toEqual(['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention']);
    expect(cfg.text.rope).toEqual({
      full_attention: { theta: 1e6, scaling: { type: 'none' } },
      sliding_attention: { theta: 1e4, scaling: { type: 'none' } },
    });
    expect([0, 1, 2, 3].map((i) => ropeForLayer(cfg.text, i).theta)).toEqual([1e4, 1e6, 1e4, 1e6]);
    expect(cfg.vision).toEqual({
      modelType: 'siglip_vision_model', hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, headDim: 16,
      numChannels: 3, imageSize: 32, patchSize: 8, numPatches: 16, hiddenAct: 'gelu_pytorch_tanh', layerNormEps: 1e-6,
      visionUseHead: false,
    });
    expect(cfg.multimodal).toEqual({ mmTokensPerImage: 4, imageTokenIndex: 383, boiTokenIndex: 7, eoiTokenIndex: 8 });
    expect(c.generationConfig).toMatchObject({
      bosTokenId: 2, eosTokenIds: [1, 6], padTokenId: 0, doSample: false, temperature: 1, topK: 50, topP: 1,
      maxLength: 20, maxNewTokens: null, cacheImplementation: 'hybrid',
    });
  });

  it('small: Hub layout detected, every stored tensor mapped, lm_head absent (tied)', async () => {
    const c = await open(smallDir);
    expect(c.layout.id).toBe('gemma3-hub');
    expect(c.unmappedNames()).toEqual([]);
    expect(c.tensorNames()).toHaveLength(smallTensors.length);
    expect(c.has('lm_head.weight')).toBe(false);
    expect(c.info('layers.3.self_attn.q_proj.weight')).toMatchObject({
      storedName: 'language_model.model.layers.3.self_attn.q_proj.weight', dtype: 'F32', shape: [128, 64],
      file: path.join(smallDir, 'model.safetensors'),
    });
    expect(c.shape('vision.embeddings.patch_embedding.weight')).toEqual([32, 3, 8, 8]);
    expect(c.shape('projector.mm_input_projection_weight')).toEqual([32, 64]);
  });

  it('small: every tensor equals an independent decode of the file, bit for bit', async () => {
    const c = await open(smallDir);
    for (const name of c.tensorNames()) {
      const ref = smallByName.get(c.info(name).storedName)!;
      expect(sameBits(await c.read(name), f32Values(ref)), name).toBe(true);
    }
    // Known statistics of the generator (README: normal(0, 0.02); Gemma RMSNorm ~ N(0, 0.1);
    // SigLIP LayerNorm weight ~ 1 + N(0, 0.1)).
    const embed = stats(await c.read('embed_tokens.weight'));
    expect(Math.abs(embed.mean)).toBeLessThan(0.002);
    expect(embed.std).toBeGreaterThan(0.018);
    expect(embed.std).toBeLessThan(0.022);
    const ln = stats(await c.read('vision.encoder.layers.0.layer_norm1.weight'));
    expect(Math.abs(ln.mean - 1)).toBeLessThan(0.1);
  });

  it('small: readRows / readRaw give the same values as the whole tensor', async () => {
    const c = await open(smallDir);
    const all = await c.read('embed_tokens.weight');
    expect(sameBits(await c.readRows('embed_tokens.weight', 100, 7), all.subarray(100 * 64, 107 * 64))).toBe(true);
    expect((await c.readRows('embed_tokens.weight', 383, 1)).length).toBe(64);
    const raw = await c.readRaw('norm.weight');
    expect(raw.dtype).toBe('F32');
    expect(raw.shape).toEqual([64]);
    expect(sameBits(new Float32Array(raw.bytes.buffer), await c.read('norm.weight'))).toBe(true);
    const rawRows = await c.readRawRows('layers.0.mlp.down_proj.weight', 10, 2);
    expect(rawRows.shape).toEqual([2, 128]);
    expect(sameBits(new Float32Array(rawRows.bytes.buffer), (await c.read('layers.0.mlp.down_proj.weight')).subarray(1280, 1536))).toBe(true);
    // A 4-D tensor: rows are along the first dimension.
    expect((await c.readRows('vision.embeddings.patch_embedding.weight', 31, 1)).length).toBe(3 * 8 * 8);
  });

  it('small-bf16: tensors are the f32 checkpoint rounded to bf16 (read as float32 and raw)', async () => {
    const f32 = await open(smallDir);
    const bf = await open(bf16Dir);
    expect(bf.config.dtype).toBe('bfloat16');
    expect(bf.config.text.dtype).toBe('bfloat16');
    expect(bf.tensorNames()).toEqual(f32.tensorNames());
    let changed = 0;
    for (const name of f32.tensorNames()) {
      expect(bf.info(name).dtype).toBe('BF16');
      const a = await f32.read(name);
      const expected = a.map(roundToBf16);
      expect(sameBits(await bf.read(name), expected), name).toBe(true);
      for (let i = 0; i < a.length; i++) if (a[i] !== expected[i]) changed++;
      const raw = await bf.readRaw(name);
      const bits = new Uint16Array(raw.bytes.buffer);
      const hi = new Uint32Array(expected.buffer);
      expect(bits.every((b, i) => b === hi[i] >>> 16), `${name} raw bits`).toBe(true);
    }
    expect(changed).toBeGreaterThan(100_000); // the rounding is real, not a no-op
    const rows = await bf.readRows('layers.1.mlp.up_proj.weight', 5, 3);
    expect(sameBits(rows, (await bf.read('layers.1.mlp.up_proj.weight')).subarray(5 * 64, 8 * 64))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------

describe('transformers 5 checkpoints (test/fixtures/checkpoints)', () => {
  const cases: Array<[string, Partial<ModelConfig['text']>]> = [
    ['llama', { modelType: 'llama', tieWordEmbeddings: false, rmsNormEps: 1e-5, attentionBias: false, qkNorm: false, bosTokenId: 1, eosTokenIds: [2] }],
    ['smollm', { modelType: 'llama', tieWordEmbeddings: true, qkNorm: false }],
    ['qwen2', { modelType: 'qwen2', tieWordEmbeddings: true, attentionBias: true, attentionOutputBias: false, qkNorm: false }],
    ['qwen3', { modelType: 'qwen3', tieWordEmbeddings: true, attentionBias: false, qkNorm: true }],
    ['gemma3', { modelType: 'gemma3_text', tieWordEmbeddings: true, qkNorm: true, slidingWindow: 8, queryPreAttnScalar: 16, eosTokenIds: [1, 106], bosTokenId: 2, padTokenId: 0 }],
  ];
  it.each(cases)('%s: opens, validates, config and values as saved', async (name, expected) => {
    const dir = path.join(hfCheckpoints, name);
    const c = await open(dir);
    expect(c.layout.id).toBe('decoder');
    expect(c.unmappedNames()).toEqual([]);
    expect(c.config.text).toMatchObject({ vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, ...expected });
    expect(c.has('lm_head.weight')).toBe(!c.config.text.tieWordEmbeddings);
    const isGemma = name === 'gemma3';
    expect(c.config.text.layerTypes).toEqual(isGemma ? ['sliding_attention', 'full_attention'] : ['full_attention', 'full_attention']);
    expect(c.config.text.rope.full_attention).toEqual({ theta: isGemma ? 1e6 : 1e4, scaling: { type: 'none' } });
    expect(c.config.text.rope.sliding_attention.theta).toBe(1e4);
    const ref = parseSafetensorsFile(path.join(dir, 'model.safetensors'));
    for (const t of ref) {
      const canonical = t.name.replace(/^model\./, '');
      expect(sameBits(await c.read(canonical), f32Values(t)), t.name).toBe(true);
    }
    if (name === 'qwen2') expect(c.shape('layers.1.self_attn.k_proj.bias')).toEqual([32]);
  });
});

// ---------------------------------------------------------------------------------------

describe('safetensors reader', () => {
  it('decodes F16 and BF16 bit patterns exactly, F64 rounded, integer dtypes raw', async () => {
    const file = path.join(newDir('dtypes'), 'model.safetensors');
    const f16Bits = [0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555];
    const f16Expected = [0, 1, -2, 0.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, NaN, -0, 0.333251953125];
    const bf16Bits = [0x3f80, 0xc000, 0x3e80, 0x7f80, 0x0001, 0x4049];
    const bf16Expected = [1, -2, 0.25, Infinity, 2 ** -133, 3.140625];
    const i64 = new BigInt64Array([-1n, 2n ** 40n, 7n]);
    writeSafetensors(file, [
      bits16Tensor('h', 'F16', [3, 4], f16Bits),
      bits16Tensor('b', 'BF16', [6], bf16Bits),
      { name: 'd', dtype: 'F64', shape: [2], data: new Uint8Array(new Float64Array([0.1, -1e300]).buffer) },
      { name: 'i', dtype: 'I64', shape: [3], data: new Uint8Array(i64.buffer) },
      { name: 'm', dtype: 'BOOL', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
      f32Tensor('s', [], [42]),
    ], { format: 'pt', note: 'test' });
    const st = await SafetensorsFile.open(file);
    try {
      expect(st.metadata).toEqual({ format: 'pt', note: 'test' });
      expect(st.names()).toEqual(['h', 'b', 'd', 'i', 'm', 'empty', 's']);
      expect(Array.from(await st.read('h'))).toEqual(f16Expected);
      expect(Array.from(await st.readRows('h', 1, 1))).toEqual(f16Expected.slice(4, 8));
      expect(Array.from(await st.read('b'))).toEqual(bf16Expected);
      expect(Array.from(await st.read('d'))).toEqual([Math.fround(0.1), -Infinity]);
      const raw = await st.readRaw('i');
      expect(raw.dtype).toBe('I64');
      expect(Array.from(new BigInt64Array(raw.bytes.buffer))).toEqual([-1n, 2n ** 40n, 7n]);
      expect(Array.from((await st.readRaw('m')).bytes)).toEqual([1, 0, 0, 1]);
      expect(Array.from((await st.readRawRows('h', 2, 1)).bytes)).toEqual(Array.from(new Uint8Array(Uint16Array.from(f16Bits.slice(8)).buffer)));
      expect((await st.read('empty')).length).toBe(0);
      expect(Array.from(await st.read('s'))).toEqual([42]);
      await expectError(st.read('i'), 'NotSupported', file, "'i'", 'I64', 'F32, F16, BF16');
      await expectError(st.readRows('s', 0, 1), 'InvalidArgument', "'s'", 'scalar');
      await expectError(st.readRows('h', 2, 2), 'InvalidArgument', "'h'", '[2, 4)', '3 rows');
      await expectError(st.read('nope'), 'InvalidCheckpoint', file, "'nope'");
    } finally {
      await st.close();
    }
    await expectError(st.read('h'), 'Disposed', file);
  });

  it('an F16 checkpoint reads as the f32 values rounded to f16 (subnormals included)', async () => {
    const dir = newDir('f16');
    fs.copyFileSync(path.join(smallDir, 'config.json'), path.join(dir, 'config.json'));
    const expected = new Map<string, Float32Array>();
    const tensors = smallTensors.map((t) => {
      const enc = Array.from(f32Values(t), toF16);
      expected.set(t.name, Float32Array.from(enc, (e) => e.value));
      return bits16Tensor(t.name, 'F16', t.shape, enc.map((e) => e.bits));
    });
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    const c = await open(dir);
    let subnormals = 0;
    for (const name of c.tensorNames()) {
      const info = c.info(name);
      expect(info.dtype).toBe('F16');
      const want = expected.get(info.storedName)!;
      expect(sameBits(await c.read(name), want), name).toBe(true);
      for (const v of want) if (v !== 0 && Math.abs(v) < 2 ** -14) subnormals++;
    }
    expect(subnormals).toBeGreaterThan(10);
    const rows = await c.readRows('embed_tokens.weight', 3, 2);
    expect(sameBits(rows, expected.get('language_model.model.embed_tokens.weight')!.subarray(3 * 64, 5 * 64))).toBe(true);
  });

  it('reads only the requested rows of a multi-MB tensor, and big tensors in bounded chunks', async () => {
    const file = path.join(newDir('big'), 'model.safetensors');
    const rows = 1024;
    const cols = 1024; // 4 MiB of F32
    const values = new Float32Array(rows * cols);
    for (let i = 0; i < values.length; i++) values[i] = i % 9973;
    const bfRows = 2048;
    const bfCols = 3072; // 12 MiB of BF16
    const bfBits = new Uint16Array(bfRows * bfCols);
    for (let i = 0; i < bfBits.length; i++) bfBits[i] = 0x3f80 + (i % 64); // 1 + k/128
    writeSafetensors(file, [f32Tensor('w', [rows, cols], values), bits16Tensor('b', 'BF16', [bfRows, bfCols], bfBits)]);
    expect(fs.statSync(file).size).toBeGreaterThan(16 << 20);

    // FileHandle is not exported by 'fs'; take its prototype from a handle of our own.
    const probe = await fs.promises.open(file, 'r');
    const fileHandleProto = Object.getPrototypeOf(probe);
    await probe.close();
    const st = await SafetensorsFile.open(file);
    const handleRead = vi.spyOn(fileHandleProto, 'read');
    try {
      const before = st.stats.bytesRead;
      expect(before).toBeLessThan(200); // the header only
      const got = await st.readRows('w', 500, 3);
      expect(st.stats.bytesRead - before).toBe(3 * cols * 4);
      expect(sameBits(got, values.subarray(500 * cols, 503 * cols))).toBe(true);
      // Independent of our counter: what the fs layer was asked for.
      const asked = handleRead.mock.calls.reduce((a, call) => a + (call[2] as number), 0);
      expect(asked).toBe(3 * cols * 4);
      expect(handleRead.mock.calls.every((call) => (call[3] as number) >= 8 + st.headerLength + 500 * cols * 4)).toBe(true);

      handleRead.mockClear();
      const bfRowsGot = await st.readRows('b', 2000, 10);
      expect(handleRead.mock.calls.reduce((a, call) => a + (call[2] as number), 0)).toBe(10 * bfCols * 2);
      expect(bfRowsGot[0]).toBe(1 + ((2000 * bfCols) % 64) / 128);

      // A whole 12 MiB tensor: several reads of at most 8 MiB, each converted as it arrives.
      handleRead.mockClear();
      const all = await st.read('b');
      expect(handleRead.mock.calls.length).toBeGreaterThanOrEqual(2);
      expect(handleRead.mock.calls.every((call) => (call[2] as number) <= 8 << 20)).toBe(true);
      for (const i of [0, 1, 63, 64, bfBits.length - 1]) expect(all[i]).toBe(1 + (i % 64) / 128);
    } finally {
      handleRead.mockRestore();
      await st.close();
    }
  });

  describe('malformed files', () => {
    const good = encodeSafetensors([f32Tensor('a', [2, 3], [1, 2, 3, 4, 5, 6]), f32Tensor('b', [4], [7, 8, 9, 10])]);
    const headerLen = Number(good.readBigUInt64LE(0));
    const write = (name: string, bytes: Uint8Array) => {
      const f = path.join(newDir(name), 'model.safetensors');
      fs.writeFileSync(f, bytes);
      return f;
    };
    const header = (entries: Record<string, unknown>) => entries;

    it('truncated: inside the length, inside the JSON, inside the data', async () => {
      const f1 = write('cut-len', good.subarray(0, 5));
      await expectError(SafetensorsFile.open(f1), 'InvalidCheckpoint', f1, '5 bytes', '8-byte header length');
      const f2 = write('cut-json', good.subarray(0, 8 + Math.floor(headerLen / 2)));
      await expectError(SafetensorsFile.open(f2), 'InvalidCheckpoint', f2, `header length ${headerLen}`, 'past the end');
      const f3 = write('cut-data', good.subarray(0, good.length - 3));
      await expectError(SafetensorsFile.open(f3), 'InvalidCheckpoint', f3, "tensor 'b'", 'data_offsets [24, 40]', 'past the end of the data region (37 bytes');
      const f4 = write('cut-first', good.subarray(0, 8 + headerLen + 10));
      await expectError(SafetensorsFile.open(f4), 'InvalidCheckpoint', f4, "tensor 'a'");
      const f5 = write('empty', new Uint8Array(0));
      await expectError(SafetensorsFile.open(f5), 'InvalidCheckpoint', f5, '0 bytes');
    });

    it('header: not JSON, not an object, absurd length', async () => {
      const f1 = write('not-json', encodeRaw(null, new Uint8Array(0), '{"a": [1, 2'));
      await expectError(SafetensorsFile.open(f1), 'InvalidCheckpoint', f1, 'not valid JSON');
      const f2 = write('array', encodeRaw([1, 2], new Uint8Array(0)));
      await expectError(SafetensorsFile.open(f2), 'InvalidCheckpoint', f2, 'not a JSON object');
      const huge = Buffer.alloc(16);
      huge.writeBigUInt64LE(2n ** 63n);
      const f3 = write('huge', huge);
      await expectError(SafetensorsFile.open(f3), 'InvalidCheckpoint', f3, 'header length 9223372036854775808');
    });

    it('offsets out of range, overlapping, wrong size; bad dtype and shape', async () => {
      const data = new Uint8Array(40);
      const f1 = write('range', encodeRaw(header({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] }, b: { dtype: 'F32', shape: [4], data_offsets: [32, 48] } }), data));
      await expectError(SafetensorsFile.open(f1), 'InvalidCheckpoint', f1, "tensor 'b'", '[32, 48]', '40 bytes');
      const f2 = write('overlap', encodeRaw(header({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] }, b: { dtype: 'F32', shape: [4], data_offsets: [16, 32] } }), data));
      await expectError(SafetensorsFile.open(f2), 'InvalidCheckpoint', f2, "'a' [0, 24]", "'b' [16, 32]", 'overlap');
      const f3 = write('size', encodeRaw(header({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }), data));
      await expectError(SafetensorsFile.open(f3), 'InvalidCheckpoint', f3, "tensor 'a'", '20 data bytes', 'expected 24');
      const f4 = write('dtype', encodeRaw(header({ a: { dtype: 'Q4_0', shape: [2], data_offsets: [0, 1] } }), data));
      await expectError(SafetensorsFile.open(f4), 'NotSupported', f4, "tensor 'a'", '"Q4_0"', 'F32, F16, BF16');
      const f5 = write('shape', encodeRaw(header({ a: { dtype: 'F32', shape: [2, -3], data_offsets: [0, 24] } }), data));
      await expectError(SafetensorsFile.open(f5), 'InvalidCheckpoint', f5, "tensor 'a'", 'shape [2,-3]');
      const f6 = write('offsets', encodeRaw(header({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }), data));
      await expectError(SafetensorsFile.open(f6), 'InvalidCheckpoint', f6, "tensor 'a'", 'data_offsets [8,4]');
      const f7 = write('meta', encodeRaw(header({ __metadata__: 'x' }), data));
      await expectError(SafetensorsFile.open(f7), 'InvalidCheckpoint', f7, '__metadata__');
      // A zero-size tensor may share its offset with a neighbour.
      const f8 = write('zero', encodeRaw(header({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }), data));
      const st = await SafetensorsFile.open(f8);
      expect(st.names()).toEqual(['a', 'b']);
      await st.close();
    });
  });
});

// ---------------------------------------------------------------------------------------

describe('sharded checkpoints', () => {
  /** The small checkpoint split in two shards with an index; returns the folder. */
  function shardSmall(name: string, editIndex?: (index: { metadata: object; weight_map: Record<string, string> }) => void): string {
    const dir = newDir(name);
    for (const f of ['config.json', 'generation_config.json']) fs.copyFileSync(path.join(smallDir, f), path.join(dir, f));
    const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const parts: TensorSpec[][] = [[], []];
    smallTensors.forEach((t, i) => parts[i < 40 ? 0 : 1].push(t));
    const weightMap: Record<string, string> = {};
    parts.forEach((ts, s) => {
      writeSafetensors(path.join(dir, shardNames[s]), ts, { format: 'pt' });
      for (const t of ts) weightMap[t.name] = shardNames[s];
    });
    const total = smallTensors.reduce((a, t) => a + t.data.length, 0);
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    editIndex?.(index);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
    return dir;
  }

  it('reads the same tensors and values as the single-file checkpoint', async () => {
    const dir = shardSmall('sharded');
    const c = await open(dir);
    const single = await open(smallDir);
    expect(c.files).toHaveLength(2);
    expect(c.weightsFile).toBe(path.join(dir, 'model.safetensors.index.json'));
    expect(c.tensorNames()).toEqual(single.tensorNames());
    for (const name of c.tensorNames()) expect(sameBits(await c.read(name), await single.read(name)), name).toBe(true);
    expect(c.info('vision.post_layernorm.bias').file).toBe(path.join(dir, 'model-00002-of-00002.safetensors'));
    expect(c.info('embed_tokens.weight').file).toBe(path.join(dir, 'model-00001-of-00002.safetensors'));
  });

  it('a missing shard is NotFound naming the shard and the index', async () => {
    const dir = shardSmall('missing-shard');
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    await expectError(openCheckpoint(dir), 'NotFound', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json');
  });

  it('a tensor listed in the index but absent from its shard is InvalidCheckpoint naming both', async () => {
    const dir = shardSmall('ghost', (index) => {
      index.weight_map['language_model.model.layers.9.mlp.up_proj.weight'] = 'model-00001-of-00002.safetensors';
    });
    await expectError(openCheckpoint(dir), 'InvalidCheckpoint', "'language_model.model.layers.9.mlp.up_proj.weight'", 'model-00001-of-00002.safetensors');
  });

  it('an index pointing outside the folder, or without weight_map, is InvalidCheckpoint', async () => {
    const dir = shardSmall('escape', (index) => {
      index.weight_map['language_model.model.norm.weight'] = '../elsewhere.safetensors';
    });
    await expectError(openCheckpoint(dir), 'InvalidCheckpoint', 'model.safetensors.index.json', '../elsewhere.safetensors');
    const dir2 = shardSmall('no-map');
    fs.writeFileSync(path.join(dir2, 'model.safetensors.index.json'), '{"metadata": {}}');
    await expectError(openCheckpoint(dir2), 'InvalidCheckpoint', 'model.safetensors.index.json', 'weight_map');
    fs.writeFileSync(path.join(dir2, 'model.safetensors.index.json'), '{"weight_map": ');
    await expectError(openCheckpoint(dir2), 'InvalidCheckpoint', 'model.safetensors.index.json', 'not valid JSON');
  });
});

// ---------------------------------------------------------------------------------------

describe('Gemma 3 key layouts', () => {
  const toTransformers4 = (n: string) =>
    n.replace(/^language_model\.model\./, 'model.language_model.').replace(/^vision_tower\./, 'model.vision_tower.').replace(/^multi_modal_projector\./, 'model.multi_modal_projector.');
  const toTransformers5 = (n: string) => toTransformers4(n).replace(/^model\.vision_tower\.vision_model\./, 'model.vision_tower.');

  it('Hub, transformers 4.52-4.57 and transformers 5 layouts give the same canonical tensors', async () => {
    const hub = await open(smallDir);
    const embed = smallByName.get('language_model.model.embed_tokens.weight')!;
    const cases: Array<[string, (n: string) => string | null, TensorSpec[], string]> = [
      ['t4', toTransformers4, [], 'gemma3-transformers4'],
      ['t5', toTransformers5, [], 'gemma3-transformers5'],
      // Saved with an explicit (tied) head: present, used only if the config unties it.
      ['t4-head', toTransformers4, [{ ...embed, name: 'lm_head.weight' }], 'gemma3-transformers4'],
      ['hub-head', (n) => n, [{ ...embed, name: 'language_model.lm_head.weight' }], 'gemma3-hub'],
    ];
    for (const [name, rename, extra, layout] of cases) {
      const c = await open(copySmall(name, rename, extra));
      expect(c.layout.id, name).toBe(layout);
      expect(c.unmappedNames(), name).toEqual([]);
      const names = c.tensorNames().filter((n) => n !== 'lm_head.weight');
      expect(names, name).toEqual(hub.tensorNames());
      expect(c.has('lm_head.weight'), name).toBe(extra.length > 0);
      for (const n of ['layers.2.self_attn.k_norm.weight', 'vision.encoder.layers.1.mlp.fc2.weight', 'projector.mm_soft_emb_norm.weight', 'vision.embeddings.position_embedding.weight']) {
        expect(sameBits(await c.read(n), await hub.read(n)), `${name} ${n}`).toBe(true);
      }
      if (extra.length) expect(sameBits(await c.read('lm_head.weight'), f32Values(embed))).toBe(true);
    }
    const t5 = await open(copySmall('t5-info', toTransformers5));
    expect(t5.info('vision.encoder.layers.0.self_attn.q_proj.bias').storedName).toBe('model.vision_tower.encoder.layers.0.self_attn.q_proj.bias');
  });

  it('names matching no layout: InvalidCheckpoint listing what each layout expects', async () => {
    const dir = copySmall('nolayout', (n) => n.replace(/^language_model\.model\./, 'text.'));
    await expectError(
      openCheckpoint(dir), 'InvalidCheckpoint', path.join(dir, 'model.safetensors'),
      'language_model.model.embed_tokens.weight', 'model.language_model.embed_tokens.weight',
      'model.vision_tower.vision_model.embeddings.patch_embedding.weight', 'model.vision_tower.embeddings.patch_embedding.weight',
    );
  });

  it('a missing tensor, a wrong shape, an integer weight: errors naming the tensor', async () => {
    const missing = copySmall('missing', (n) => (n === 'language_model.model.layers.1.mlp.up_proj.weight' ? null : n));
    await expectError(openCheckpoint(missing), 'InvalidCheckpoint', "missing tensor 'language_model.model.layers.1.mlp.up_proj.weight'", 'layers.1.mlp.up_proj.weight');
    const c = await open(missing, { validate: false });
    await expectError(c.read('layers.1.mlp.up_proj.weight'), 'InvalidCheckpoint', 'language_model.model.layers.1.mlp.up_proj.weight', path.join(missing, 'model.safetensors'));

    const q = smallByName.get('language_model.model.layers.0.self_attn.q_proj.weight')!;
    const wrong = copySmall('wrong-shape', (n) => (n === q.name ? null : n), [{ ...q, shape: [64, 128] }]);
    await expectError(openCheckpoint(wrong), 'InvalidCheckpoint', "'language_model.model.layers.0.self_attn.q_proj.weight'", '[64, 128]', 'expected [128, 64]');
    const w = await open(wrong, { validate: false });
    w.expectShape('layers.0.self_attn.k_proj.weight', [64, 64]);
    expect(() => w.expectShape('layers.0.self_attn.q_proj.weight', [128, 64])).toThrow(/q_proj\.weight.*has shape \[64, 128\], expected \[128, 64\]/);
    await expectError(() => w.expectShape('layers.0.self_attn.q_proj.weight', [128, 64]), 'InvalidCheckpoint', path.join(wrong, 'model.safetensors'));
    await expectError(() => w.expectShape('layers.7.self_attn.q_proj.weight', [128, 64]), 'InvalidCheckpoint', "missing tensor 'language_model.model.layers.7.self_attn.q_proj.weight'");

    const n = smallByName.get('language_model.model.norm.weight')!;
    const int8 = copySmall('int8', (x) => (x === n.name ? null : x), [{ name: n.name, dtype: 'I8', shape: [64], data: new Uint8Array(64) }]);
    await expectError(openCheckpoint(int8), 'NotSupported', "'language_model.model.norm.weight'", 'I8', 'F32, F16, BF16');
  });

  it('an untied config requires lm_head', async () => {
    const dir = copySmall('untied');
    const cfg = readJson(path.join(dir, 'config.json'));
    cfg.text_config.tie_word_embeddings = false;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    await expectError(openCheckpoint(dir), 'InvalidCheckpoint', "missing tensor 'language_model.lm_head.weight'");
  });
});

// ---------------------------------------------------------------------------------------

describe('config.json normalization', () => {
  const small = readJson(path.join(smallDir, 'config.json'));
  const strip = (c: ModelConfig) => ({ ...c, raw: undefined });

  /** The small config rewritten the way transformers 5 saves RoPE. */
  function toV5(cfg: Record<string, any>, full: Record<string, unknown>): Record<string, any> {
    const out = structuredClone(cfg);
    const t = out.text_config;
    t.rope_parameters = { full_attention: { ...full, rope_theta: t.rope_theta }, sliding_attention: { rope_type: 'default', rope_theta: t.rope_local_base_freq } };
    delete t.rope_theta;
    delete t.rope_local_base_freq;
    delete t.rope_scaling;
    return out;
  }

  it('Gemma 3: legacy and transformers-5 RoPE layouts normalize identically', () => {
    const legacy = normalizeConfig(small);
    expect(strip(normalizeConfig(toV5(small, { rope_type: 'default' })))).toEqual(strip(legacy));
    // Linear scaling on the global layers (4B/12B/27B): the local layers stay unscaled.
    const legacyLinear = structuredClone(small);
    legacyLinear.text_config.rope_scaling = { rope_type: 'linear', factor: 8.0 };
    const a = normalizeConfig(legacyLinear);
    const b = normalizeConfig(toV5(small, { rope_type: 'linear', factor: 8.0 }));
    expect(strip(b)).toEqual(strip(a));
    expect(a.text.rope).toEqual({
      full_attention: { theta: 1e6, scaling: { type: 'linear', factor: 8 } },
      sliding_attention: { theta: 1e4, scaling: { type: 'none' } },
    });
    // Old-style {"type": ...} key.
    const oldKey = structuredClone(small);
    oldKey.text_config.rope_scaling = { type: 'linear', factor: 8.0 };
    expect(normalizeConfig(oldKey).text.rope).toEqual(a.text.rope);
  });

  it('Gemma 3: rope_parameters without rope_theta fall back to the legacy keys, then to the defaults', () => {
    const t = { model_type: 'gemma3_text', num_hidden_layers: 2, layer_types: ['sliding_attention', 'full_attention'] };
    const bare = normalizeConfig({ ...t, rope_parameters: { full_attention: { rope_type: 'default' }, sliding_attention: { rope_type: 'default' } } });
    expect(bare.text.rope).toEqual({ full_attention: { theta: 1e6, scaling: { type: 'none' } }, sliding_attention: { theta: 1e4, scaling: { type: 'none' } } });
    const legacyKeys = normalizeConfig({ ...t, rope_theta: 5e5, rope_local_base_freq: 2e4, rope_parameters: { full_attention: { rope_type: 'default' } } });
    expect(legacyKeys.text.rope).toEqual({ full_attention: { theta: 5e5, scaling: { type: 'none' } }, sliding_attention: { theta: 2e4, scaling: { type: 'none' } } });
    expect(normalizeConfig(t).text.rope).toEqual(bare.text.rope);
  });

  it('Gemma 3: layer types from sliding_window_pattern / _sliding_window_pattern when layer_types is missing', () => {
    const base = { model_type: 'gemma3_text', num_hidden_layers: 6 };
    const s = 'sliding_attention';
    const f = 'full_attention';
    expect(normalizeConfig({ ...base, sliding_window_pattern: 3 }).text.layerTypes).toEqual([s, s, f, s, s, f]);
    expect(normalizeConfig({ ...base, _sliding_window_pattern: 2 }).text.layerTypes).toEqual([s, f, s, f, s, f]);
    expect(normalizeConfig({ ...base, num_hidden_layers: 12 }).text.layerTypes).toEqual([s, s, s, s, s, f, s, s, s, s, s, f]);
    // The small fixture without layer_types derives the same list from its pattern.
    const noList = structuredClone(small);
    delete noList.text_config.layer_types;
    expect(normalizeConfig(noList).text.layerTypes).toEqual(normalizeConfig(small).text.layerTypes);
    // EmbeddingGemma: bidirectional attention halves the window as transformers does.
    expect(normalizeConfig({ ...base, sliding_window: 512, use_bidirectional_attention: true }).text.slidingWindow).toBe(257);
  });

  it('Gemma 3 text: transformers defaults for missing keys', () => {
    const c = normalizeConfig({ model_type: 'gemma3_text' });
    expect(c.text).toMatchObject({
      vocabSize: 262208, hiddenSize: 2304, intermediateSize: 9216, numLayers: 26, numHeads: 8, numKvHeads: 4, headDim: 256,
      queryPreAttnScalar: 256, slidingWindow: 4096, rmsNormEps: 1e-6, maxPositionEmbeddings: 131072, tieWordEmbeddings: true,
      hiddenAct: 'gelu_pytorch_tanh', bosTokenId: 2, eosTokenIds: [1], padTokenId: 0, qkNorm: true, attentionBias: false,
    });
    expect(c.text.layerTypes.map((t, i) => (t === 'full_attention' ? i : -1)).filter((i) => i >= 0)).toEqual([5, 11, 17, 23]);
  });

  it('Gemma 3 multimodal: defaults for the multimodal keys, top-level tie_word_embeddings', () => {
    const c = normalizeConfig({
      model_type: 'gemma3', tie_word_embeddings: false,
      text_config: { num_hidden_layers: 2 },
      vision_config: { image_size: 896, patch_size: 14, hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27, num_attention_heads: 16 },
    });
    expect(c.multimodal).toEqual({ mmTokensPerImage: 256, imageTokenIndex: 262144, boiTokenIndex: 255999, eoiTokenIndex: 256000 });
    expect(c.vision).toMatchObject({ numPatches: 4096, headDim: 72, layerNormEps: 1e-6, numChannels: 3, hiddenAct: 'gelu_pytorch_tanh' });
    expect(c.text.tieWordEmbeddings).toBe(false);
    expect(c.eosTokenIds).toEqual([1]);
    expect(() => normalizeConfig({ model_type: 'gemma3', mm_tokens_per_image: 5, vision_config: { image_size: 32, patch_size: 8 } })).toThrow(/mm_tokens_per_image/);
    expect(() => normalizeConfig({ model_type: 'gemma3', vision_config: { model_type: 'clip_vision_model' } })).toThrow(/vision_config\.model_type 'clip_vision_model'/);
  });

  it('Qwen 3 with only model_type: Qwen3Config defaults', () => {
    const c = normalizeConfig({ model_type: 'qwen3' });
    expect(c.text).toMatchObject({
      vocabSize: 151936, hiddenSize: 4096, intermediateSize: 22016, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128,
      rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, tieWordEmbeddings: false, attentionBias: false, attentionOutputBias: false,
      qkNorm: true, hiddenAct: 'silu', bosTokenId: null, eosTokenIds: [], padTokenId: null, slidingWindow: null, queryPreAttnScalar: null,
    });
    expect(c.text.layerTypes).toEqual(Array(32).fill('full_attention'));
    expect(c.text.rope.full_attention).toEqual({ theta: 10000, scaling: { type: 'none' } });
    expect(c.dtype).toBeNull();
  });

  it('Qwen 2: q/k/v biases always, head_dim derived, sliding layers from use_sliding_window + max_window_layers', () => {
    const c = normalizeConfig({ model_type: 'qwen2', hidden_size: 896, num_attention_heads: 14, num_key_value_heads: 2, num_hidden_layers: 4, use_sliding_window: true, max_window_layers: 2, rope_theta: 1e6, torch_dtype: 'bfloat16' });
    expect(c.text).toMatchObject({ headDim: 64, numKvHeads: 2, attentionBias: true, attentionOutputBias: false, qkNorm: false, slidingWindow: 4096, vocabSize: 151936 });
    expect(c.text.layerTypes).toEqual(['full_attention', 'full_attention', 'sliding_attention', 'sliding_attention']);
    expect(c.text.rope.sliding_attention).toEqual({ theta: 1e6, scaling: { type: 'none' } });
    expect(c.dtype).toBe('bfloat16');
    // Without use_sliding_window the window (131072 in Qwen2-0.5B) is ignored.
    const off = normalizeConfig({ model_type: 'qwen2', num_hidden_layers: 24, sliding_window: 131072, max_window_layers: 21, use_sliding_window: false });
    expect(off.text.slidingWindow).toBeNull();
    expect(off.text.layerTypes.every((t) => t === 'full_attention')).toBe(true);
    expect(normalizeConfig({ model_type: 'qwen2', num_key_value_heads: null }).text.numKvHeads).toBe(32);
  });

  it('Llama and SmolLM: LlamaConfig defaults', () => {
    const llama = normalizeConfig({ model_type: 'llama', hidden_size: 2048, num_attention_heads: 16 });
    expect(llama.text).toMatchObject({
      vocabSize: 32000, intermediateSize: 11008, numLayers: 32, numKvHeads: 16, headDim: 128, rmsNormEps: 1e-6,
      maxPositionEmbeddings: 2048, tieWordEmbeddings: false, bosTokenId: 1, eosTokenIds: [2], padTokenId: null,
      attentionBias: false, mlpBias: false, qkNorm: false, hiddenAct: 'silu', slidingWindow: null,
    });
    expect(llama.text.rope.full_attention).toEqual({ theta: 10000, scaling: { type: 'none' } });
    // SmolLM2-135M's shape (head_dim not written: 576 / 9).
    const smol = normalizeConfig({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_attention_heads: 9, num_key_value_heads: 3, num_hidden_layers: 30, rope_theta: 100000, rms_norm_eps: 1e-5, tie_word_embeddings: true, vocab_size: 49152, bos_token_id: 0, eos_token_id: 0, max_position_embeddings: 8192 });
    expect(smol.text).toMatchObject({ headDim: 64, numKvHeads: 3, tieWordEmbeddings: true, bosTokenId: 0, eosTokenIds: [0], vocabSize: 49152 });
    expect(smol.text.rope.full_attention.theta).toBe(100000);
    expect(normalizeConfig({ model_type: 'llama', attention_bias: true, mlp_bias: true }).text).toMatchObject({ attentionBias: true, attentionOutputBias: true, mlpBias: true });
  });

  it('Llama 3 RoPE scaling: legacy rope_scaling and flat rope_parameters agree', () => {
    const scaling = { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 };
    const legacy = normalizeConfig({ model_type: 'llama', rope_theta: 500000, rope_scaling: { ...scaling, rope_type: 'llama3' } });
    const v5 = normalizeConfig({ model_type: 'llama', rope_parameters: { ...scaling, rope_type: 'llama3', rope_theta: 500000 } });
    expect(strip(v5)).toEqual(strip(legacy));
    const expected = { theta: 500000, scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } };
    expect(legacy.text.rope).toEqual({ full_attention: expected, sliding_attention: expected });
    expect(ropeForLayer(legacy.text, 31)).toEqual(expected);
  });

  it('unsupported or incomplete RoPE: errors naming the key', () => {
    expect(() => normalizeConfig({ model_type: 'llama', rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'cfg/config.json')).toThrow(/cfg\/config\.json: rope_scaling\.rope_type 'yarn' is not supported \(supported RoPE types: default, linear, llama3\)/);
    const e = (() => {
      try {
        normalizeConfig({ model_type: 'qwen3', rope_parameters: { rope_type: 'dynamic', factor: 2, rope_theta: 1e6 } });
      } catch (err) {
        return err as ExecuTorchError;
      }
    })();
    expect(e?.code).toBe('NotSupported');
    expect(e?.message).toContain("rope_parameters.rope_type 'dynamic'");
    const k = structuredClone(small);
    k.text_config.rope_scaling = { rope_type: 'linear' };
    expect(() => normalizeConfig(k)).toThrow(/text_config\.rope_scaling\.factor is required for linear RoPE scaling/);
    expect(() => normalizeConfig({ model_type: 'llama', rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(/rope_scaling\.low_freq_factor is required/);
  });

  it('dtype: dtype over torch_dtype, "torch." prefix, unknown dtypes NotSupported', () => {
    expect(normalizeConfig({ model_type: 'llama', dtype: 'float16', torch_dtype: 'float32' }).dtype).toBe('float16');
    expect(normalizeConfig({ model_type: 'llama', torch_dtype: 'torch.bfloat16' }).dtype).toBe('bfloat16');
    expect(normalizeConfig({ model_type: 'llama', torch_dtype: 'auto' }).dtype).toBeNull();
    expect(() => normalizeConfig({ model_type: 'llama', torch_dtype: 'float64' }, 'x/config.json')).toThrow(/x\/config\.json: torch_dtype 'float64' is not supported; supported: float32, float16, bfloat16/);
  });

  it('unknown or missing model_type is NotSupported listing the supported ones; bad values name the key', () => {
    for (const cfg of [{ model_type: 'mistral' }, {}]) {
      let err: ExecuTorchError | undefined;
      try {
        normalizeConfig(cfg, 'm/config.json');
      } catch (e) {
        err = e as ExecuTorchError;
      }
      expect(err?.code).toBe('NotSupported');
      expect(err?.message).toContain('m/config.json: model_type');
      expect(err?.message).toContain('llama, qwen2, qwen3, gemma3_text, gemma3');
    }
    expect(() => normalizeConfig({ model_type: 'llama', hidden_size: -1 })).toThrow(/config\.json: hidden_size must be an integer >= 1, got -1/);
    expect(() => normalizeConfig({ model_type: 'gemma3', text_config: { num_attention_heads: 4, num_key_value_heads: 3 } })).toThrow(/text_config\.num_key_value_heads \(3\) must divide num_attention_heads \(4\)/);
    expect(() => normalizeConfig({ model_type: 'llama', hidden_size: 100, num_attention_heads: 3 })).toThrow(/head_dim is not set and hidden_size \(100\)/);
    expect(() => normalizeConfig({ model_type: 'qwen3', num_hidden_layers: 2, layer_types: ['full_attention'] })).toThrow(/layer_types has 1 entries, num_hidden_layers is 2/);
    expect(() => normalizeConfig({ model_type: 'qwen3', num_hidden_layers: 1, layer_types: ['chunked_attention'] })).toThrow(/layer_types entry 'chunked_attention' is not supported/);
    expect(() => normalizeConfig({ model_type: 'qwen3', num_hidden_layers: 1, layer_types: ['sliding_attention'] })).toThrow(/sliding_window is not set/);
    expect(() => normalizeConfig([1, 2])).toThrow(/not a JSON object/);
  });

  it('generation_config.json: eos lists, defaults, validation', () => {
    const g = normalizeGenerationConfig({ eos_token_id: 7, do_sample: true, temperature: 0.6, top_p: 0.9, max_new_tokens: 128 });
    expect(g).toMatchObject({ eosTokenIds: [7], bosTokenId: null, padTokenId: null, doSample: true, temperature: 0.6, topK: 50, topP: 0.9, minP: null, repetitionPenalty: 1, maxLength: 20, maxNewTokens: 128 });
    expect(normalizeGenerationConfig({ eos_token_id: [1, 106] }).eosTokenIds).toEqual([1, 106]);
    expect(() => normalizeGenerationConfig({ temperature: -1 }, 'g/generation_config.json')).toThrow(/g\/generation_config\.json: temperature must be >= 0/);
    expect(() => normalizeGenerationConfig({ eos_token_id: ['x'] })).toThrow(/eos_token_id must be a token id or a list of them/);
  });
});

// ---------------------------------------------------------------------------------------

describe('checkpoint folder errors', () => {
  it('missing folder, a file instead of a folder, missing config.json, missing weights', async () => {
    const nowhere = path.join(work, 'does-not-exist');
    await expectError(openCheckpoint(nowhere), 'NotFound', nowhere);
    const file = path.join(work, 'plain-file');
    fs.writeFileSync(file, 'x');
    await expectError(openCheckpoint(file), 'NotFound', file, 'not a directory');
    const noConfig = newDir('no-config');
    fs.copyFileSync(path.join(smallDir, 'model.safetensors'), path.join(noConfig, 'model.safetensors'));
    await expectError(openCheckpoint(noConfig), 'NotFound', path.join(noConfig, 'config.json'));
    const noWeights = newDir('no-weights');
    fs.copyFileSync(path.join(smallDir, 'config.json'), path.join(noWeights, 'config.json'));
    await expectError(openCheckpoint(noWeights), 'NotFound', noWeights, 'model.safetensors', 'model.safetensors.index.json');
    fs.writeFileSync(path.join(noWeights, 'pytorch_model.bin'), 'x');
    await expectError(openCheckpoint(noWeights), 'NotSupported', 'pytorch_model.bin');
  });

  it('malformed config.json / generation_config.json, unknown model_type', async () => {
    const bad = copySmall('bad-config');
    fs.writeFileSync(path.join(bad, 'config.json'), '{"model_type": "gemma3",');
    await expectError(openCheckpoint(bad), 'InvalidCheckpoint', path.join(bad, 'config.json'), 'not valid JSON');
    fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ model_type: 'mamba' }));
    await expectError(openCheckpoint(bad), 'NotSupported', path.join(bad, 'config.json'), "'mamba'", 'llama, qwen2, qwen3, gemma3_text, gemma3');
    fs.copyFileSync(path.join(smallDir, 'config.json'), path.join(bad, 'config.json'));
    fs.writeFileSync(path.join(bad, 'generation_config.json'), '[');
    await expectError(openCheckpoint(bad), 'InvalidCheckpoint', path.join(bad, 'generation_config.json'));
    fs.rmSync(path.join(bad, 'generation_config.json'));
    const c = await open(bad);
    expect(c.generationConfig).toBeNull();
  });

  it('truncated model.safetensors of a real checkpoint, cut at several points', async () => {
    const bytes = fs.readFileSync(path.join(smallDir, 'model.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    const cuts: Array<[number, string]> = [
      [3, '8-byte header length'],
      [8 + 100, 'runs past the end of the file'],
      [8 + n + 1000, "tensor 'language_model.model.embed_tokens.weight': data_offsets [0, 98304]"],
      [bytes.length - 1, "tensor 'vision_tower.vision_model.post_layernorm.weight'"],
    ];
    for (const [at, part] of cuts) {
      const dir = copySmall(`cut-${at}`);
      const file = path.join(dir, 'model.safetensors');
      fs.writeFileSync(file, bytes.subarray(0, at));
      await expectError(openCheckpoint(dir), 'InvalidCheckpoint', file, part);
    }
  });

  it('close() is idempotent and later reads are Disposed', async () => {
    const c = await openCheckpoint(smallDir);
    expect((await c.read('norm.weight')).length).toBe(64);
    await c.close();
    await c.close();
    await expectError(c.read('norm.weight'), 'Disposed', 'model.safetensors');
  });
});
