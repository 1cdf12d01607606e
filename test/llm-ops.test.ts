// The LLM custom ops (llama::update_cache*, custom_sdpa, sdpa_with_kv_cache,
// custom_quantized_sdpa) on small programs that call them directly, checked against
// plain float64 reference loops written here.
//
// Tolerance: the kernels accumulate in float32, the reference in float64; outputs
// must agree within 1e-5 of max|reference| (float32 tensors), 4e-3 for float16 and
// 2e-2 for bfloat16 outputs (one rounding of the result dominates there).
import { afterAll, describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor } from '../lib';
import { bool, double, input, int, none, opProgram, planned, relMaxError, rng, ValueSpec } from './helpers/op-program';

const TOL = { FLOAT: 1e-5, HALF: 4e-3, BFLOAT16: 2e-2 } as const;
type FDType = keyof typeof TOL;
const JS_DTYPE = { FLOAT: 'float32', HALF: 'float16', BFLOAT16: 'bfloat16' } as const;

/** Measured errors, printed at the end for the record. */
const measured: string[] = [];
afterAll(() => console.log(measured.join('\n')));

function floatTensor(values: ArrayLike<number>, shape: number[], dt: FDType = 'FLOAT'): Tensor {
  const f = Float32Array.from(values);
  return dt === 'FLOAT' ? new Tensor(f, shape) : Tensor.fromFloat32(f, shape, JS_DTYPE[dt]);
}

/** The values as the kernel sees them (rounded to the tensor dtype). */
const seen = (t: Tensor): Float64Array => Float64Array.from(t.toFloat32());

function randomArray(n: number, r: () => number, spread = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = spread * r();
  return a;
}

async function expectError(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<ExecuTorchError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExecuTorchError);
  expect((err as ExecuTorchError).code).toBe(code);
  if (pattern) expect((err as ExecuTorchError).message).toMatch(pattern);
  return err as ExecuTorchError;
}

// ---------------------------------------------------------------------------
// Reference attention

interface Attn {
  B: number;
  Sq: number;
  Hq: number;
  Hkv: number;
  D: number;
  Skv: number;
  startPos: number;
  causal: boolean;
  mask?: Float64Array; // [Sq, Skv], additive
  scale?: number;
}

/** Softmax(scale * q.k + mask) . v over the keys each row may see; float64 throughout. */
function sdpaRef(a: Attn, q: Float64Array, k: Float64Array, v: Float64Array): Float64Array {
  const { B, Sq, Hq, Hkv, D, Skv, startPos } = a;
  const reps = Hq / Hkv;
  const scale = a.scale ?? 1 / Math.sqrt(D);
  const out = new Float64Array(B * Sq * Hq * D);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < Sq; s++)
      for (let h = 0; h < Hq; h++) {
        const kvh = Math.floor(h / reps);
        const nKeys = a.mask ? Skv : a.causal ? startPos + s + 1 : startPos + Sq;
        const qo = ((b * Sq + s) * Hq + h) * D;
        const scores: number[] = [];
        for (let n = 0; n < nKeys; n++) {
          const ko = ((b * Skv + n) * Hkv + kvh) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
          scores.push(dot * scale + (a.mask ? a.mask[s * Skv + n] : 0));
        }
        const mx = Math.max(...scores);
        const p = scores.map((x) => Math.exp(x - mx));
        const sum = p.reduce((x, y) => x + y, 0);
        for (let n = 0; n < nKeys; n++) {
          const vo = ((b * Skv + n) * Hkv + kvh) * D;
          for (let d = 0; d < D; d++) out[qo + d] += (p[n] / sum) * v[vo + d];
        }
      }
  return out;
}

/** Runs llama::custom_sdpa.out once; returns the output tensor. */
async function runCustomSdpa(a: Attn, q: Tensor, k: Tensor, v: Tensor, mask?: Tensor, outDtype?: FDType): Promise<Tensor> {
  const dt = (outDtype ?? { float32: 'FLOAT', float16: 'HALF', bfloat16: 'BFLOAT16' }[q.dtype as string]) as FDType;
  const dtOf = (t: Tensor): string =>
    ({ float32: 'FLOAT', float16: 'HALF', bfloat16: 'BFLOAT16', int8: 'CHAR' })[t.dtype as string] as string;
  const values: ValueSpec[] = [
    input(dtOf(q), [...q.shape]),
    input(dtOf(k), [...k.shape]),
    input(dtOf(v), [...v.shape]),
    int(a.startPos),
    mask ? input(dtOf(mask), [...mask.shape]) : none,
    double(0),
    bool(a.causal),
    a.scale !== undefined ? double(a.scale) : none,
    planned(dt, [...q.shape]),
  ];
  const program = await Program.load(
    opProgram({ values, calls: [{ op: 'llama::custom_sdpa', args: [0, 1, 2, 3, 4, 5, 6, 7, 8, 8] }], outputs: [8] }),
  );
  try {
    const [out] = await program.execute('forward', mask ? [q, k, v, mask] : [q, k, v]);
    return out as Tensor;
  } finally {
    program.dispose();
  }
}

/**
 * Random q / k / v for a case; cache rows the kernel must not read (beyond
 * start_pos + Sq without a mask) are NaN, so reading them would show.
 */
function makeInputs(a: Attn, seed: number, dt: FDType = 'FLOAT') {
  const r = rng(seed);
  const q = randomArray(a.B * a.Sq * a.Hq * a.D, r, 1.5);
  const k = randomArray(a.B * a.Skv * a.Hkv * a.D, r, 1.5);
  const v = randomArray(a.B * a.Skv * a.Hkv * a.D, r);
  if (!a.mask) {
    const used = a.startPos + a.Sq;
    for (let b = 0; b < a.B; b++)
      for (let n = used; n < a.Skv; n++)
        for (let i = 0; i < a.Hkv * a.D; i++) {
          k[((b * a.Skv + n) * a.Hkv) * a.D + i] = NaN;
          v[((b * a.Skv + n) * a.Hkv) * a.D + i] = NaN;
        }
  }
  return {
    q: floatTensor(q, [a.B, a.Sq, a.Hq, a.D], dt),
    k: floatTensor(k, [a.B, a.Skv, a.Hkv, a.D], dt),
    v: floatTensor(v, [a.B, a.Skv, a.Hkv, a.D], dt),
  };
}

async function checkSdpa(name: string, a: Attn, seed: number, dt: FDType = 'FLOAT'): Promise<number> {
  const { q, k, v } = makeInputs(a, seed, dt);
  const mask = a.mask ? floatTensor(a.mask, [a.Sq, a.Skv]) : undefined;
  const out = await runCustomSdpa(a, q, k, v, mask);
  expect(out.dtype).toBe(q.dtype);
  expect(out.shape).toEqual([a.B, a.Sq, a.Hq, a.D]);
  const ref = sdpaRef(a, seen(q), seen(k), seen(v));
  const err = relMaxError(out.toFloat32(), ref);
  measured.push(`custom_sdpa ${name} (${dt}): max rel error ${err.toExponential(2)}`);
  expect(err).toBeLessThan(TOL[dt]);
  return err;
}

/** The ring-buffer (sliding window) mask of HF exports: 0 where the slot holds a visible position. */
function ringMask(cachePositions: number[], queryPositions: number[], window: number): Float64Array {
  const m = new Float64Array(queryPositions.length * cachePositions.length);
  queryPositions.forEach((qp, i) =>
    cachePositions.forEach((cp, j) => {
      const ok = cp >= 0 && qp - cp >= 0 && qp - cp < window;
      m[i * cachePositions.length + j] = ok ? 0 : -Infinity;
    }),
  );
  return m;
}

describe('llama::custom_sdpa.out', () => {
  const gqa = { Hq: 6, Hkv: 2, D: 20 };

  it('decodes one token at start_pos > 0 with grouped-query heads (D = 20), reading only start_pos + 1 keys', async () => {
    await checkSdpa('decode GQA', { B: 1, Sq: 1, ...gqa, Skv: 24, startPos: 9, causal: false }, 1);
    await checkSdpa('decode GQA causal', { B: 1, Sq: 1, ...gqa, Skv: 24, startPos: 9, causal: true }, 2);
  });

  it('prefills causally from position 0 (batch 2)', async () => {
    await checkSdpa('prefill causal', { B: 2, Sq: 13, ...gqa, Skv: 32, startPos: 0, causal: true }, 3);
  });

  it('continues a prefill causally at start_pos > 0 (multi-head, D = 36)', async () => {
    await checkSdpa('chunked prefill', { B: 1, Sq: 7, Hq: 4, Hkv: 4, D: 36, Skv: 20, startPos: 5, causal: true }, 4);
  });

  it('attends to all start_pos + Sq keys without is_causal', async () => {
    await checkSdpa('non-causal', { B: 1, Sq: 5, ...gqa, Skv: 8, startPos: 3, causal: false }, 5);
  });

  it('streams a 700-key cache in blocks and 120 query rows in tiles', async () => {
    await checkSdpa('long causal', { B: 1, Sq: 40, ...gqa, Skv: 700, startPos: 600, causal: true }, 6);
    await checkSdpa('long decode', { B: 1, Sq: 1, Hq: 8, Hkv: 1, D: 64, Skv: 700, startPos: 699, causal: false, scale: 0.05 }, 7);
    await checkSdpa('long non-causal', { B: 1, Sq: 3, ...gqa, Skv: 700, startPos: 697, causal: false }, 8);
  });

  it('applies a custom scale', async () => {
    await checkSdpa('scale 0.9', { B: 1, Sq: 4, ...gqa, Skv: 10, startPos: 2, causal: true, scale: 0.9 }, 9);
  });

  it('adds a ring-buffer mask with -inf entries over the whole cache (start_pos 0, custom scale)', async () => {
    // A 12-slot ring (window 6) after writing positions 0..16: slot j holds the newest position = j mod 12.
    const cachePositions = [12, 13, 14, 15, 16, 5, 6, 7, 8, 9, 10, 11];
    const mask = ringMask(cachePositions, [14, 15, 16], 6);
    expect(mask.filter((x) => x === -Infinity).length).toBeGreaterThan(10);
    await checkSdpa('ring mask', { B: 2, Sq: 3, ...gqa, Skv: 12, startPos: 0, causal: false, mask, scale: 0.3 }, 10);
    // A ring that is not full yet: empty slots (-1) are masked.
    const young = ringMask([0, 1, 2, -1, -1, -1, -1, -1], [0, 1, 2], 4);
    await checkSdpa('young ring', { B: 1, Sq: 3, Hq: 2, Hkv: 1, D: 20, Skv: 8, startPos: 0, causal: false, mask: young }, 11);
  });

  it('gives NaN for a row whose keys are all masked', async () => {
    const a: Attn = { B: 1, Sq: 2, Hq: 1, Hkv: 1, D: 4, Skv: 3, startPos: 0, causal: false };
    a.mask = Float64Array.from([0, -Infinity, 0, -Infinity, -Infinity, -Infinity]);
    const { q, k, v } = makeInputs(a, 12);
    const out = (await runCustomSdpa(a, q, k, v, floatTensor(a.mask, [2, 3]))).toFloat32();
    expect(Array.from(out.slice(0, 4)).every(Number.isFinite)).toBe(true);
    expect(Array.from(out.slice(4)).every(Number.isNaN)).toBe(true);
  });

  it('computes float16 and bfloat16 inputs in float32', async () => {
    await checkSdpa('prefill causal', { B: 1, Sq: 9, ...gqa, Skv: 16, startPos: 3, causal: true }, 13, 'HALF');
    await checkSdpa('ring mask', {
      B: 1, Sq: 3, ...gqa, Skv: 12, startPos: 0, causal: false,
      mask: ringMask([12, 13, 14, 15, 16, 5, 6, 7, 8, 9, 10, 11], [14, 15, 16], 6),
    }, 14, 'BFLOAT16');
  });

  it('rejects start_pos outside the cache with InvalidArgument', async () => {
    const base: Attn = { B: 1, Sq: 3, ...gqa, Skv: 8, startPos: 0, causal: true };
    for (const startPos of [6, 9, -1]) {
      const a = { ...base, startPos };
      const { q, k, v } = makeInputs({ ...base, startPos: 0 }, 15);
      await expectError(runCustomSdpa(a, q, k, v), 'InvalidArgument', /start_pos/);
    }
  });

  it('rejects mismatched dtypes, a mask together with is_causal, bad head counts and shapes', async () => {
    const a: Attn = { B: 1, Sq: 2, ...gqa, Skv: 8, startPos: 1, causal: false };
    const { q, k, v } = makeInputs(a, 16);
    const kHalf = floatTensor(k.toFloat32(), [...k.shape], 'HALF');
    await expectError(runCustomSdpa(a, q, kHalf, v), 'InvalidArgument', /dtype/);
    await expectError(runCustomSdpa(a, q, k, v, undefined, 'HALF'), 'InvalidArgument', /out dtype/);
    const mask = floatTensor(new Float32Array(2 * 8), [2, 8]);
    await expectError(runCustomSdpa({ ...a, causal: true }, q, k, v, mask), 'InvalidArgument', /is_causal/);
    await expectError(runCustomSdpa(a, q, k, v, floatTensor(new Float32Array(2 * 7), [2, 7])), 'InvalidArgument', /attn_mask/);
    const q5 = floatTensor(new Float32Array(2 * 5 * 20), [1, 2, 5, 20]);
    await expectError(runCustomSdpa({ ...a, Hq: 5 }, q5, k, v), 'InvalidArgument', /multiple/);
    const q8 = new Tensor(new Int8Array(2 * 6 * 20), [1, 2, 6, 20], 'int8');
    const k8 = new Tensor(new Int8Array(8 * 2 * 20), [1, 8, 2, 20], 'int8');
    await expectError(runCustomSdpa(a, q8, k8, k8, undefined, 'FLOAT'), 'NotSupported');
  });
});

// ---------------------------------------------------------------------------
// Decoding loops: the cache lives in planned memory across executes and start_pos
// comes from a tensor input through aten::_local_scalar_dense, as in exported LLMs.

describe('KV-cache decoding loops', () => {
  const H = { Hq: 6, Hkv: 2, D: 20 };
  const maxSeq = 16;
  const maxNew = 8;

  /**
   * fused: one llama::sdpa_with_kv_cache.out call; composed: update_cache for k and v,
   * then custom_sdpa over the caches (the optimum-executorch export).
   */
  function loopProgram(mode: 'fused' | 'composed'): Uint8Array {
    const values: ValueSpec[] = [
      input('FLOAT', [1, maxNew, H.Hq, H.D], true), //  0 q
      input('FLOAT', [1, maxNew, H.Hkv, H.D], true), // 1 k
      input('FLOAT', [1, maxNew, H.Hkv, H.D], true), // 2 v
      input('LONG', [1]), //                            3 position of the first new token
      planned('FLOAT', [1, maxSeq, H.Hkv, H.D]), //     4 k_cache
      planned('FLOAT', [1, maxSeq, H.Hkv, H.D]), //     5 v_cache
      int(0), //                                        6 start_pos (computed)
      int(0), //                                        7 seq_len (computed)
      none, //                                          8 attn_mask
      double(0), //                                     9 drpout_p
      bool(true), //                                   10 is_causal
      none, //                                         11 scale
      planned('FLOAT', [1, maxNew, H.Hq, H.D], true), // 12 out
      int(1), //                                       13 dim 1
      planned('FLOAT', [1]), //                        14 update_cache placeholder
      planned('FLOAT', [1]), //                        15 update_cache placeholder
    ];
    const calls = [
      { op: 'aten::_local_scalar_dense', overload: '', args: [3, 6] },
      { op: 'aten::sym_size', overload: 'int', args: [0, 13, 7] },
      ...(mode === 'fused'
        ? [{ op: 'llama::sdpa_with_kv_cache', args: [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12] }]
        : [
            { op: 'llama::update_cache', args: [1, 4, 6, 14, 14] },
            { op: 'llama::update_cache', args: [2, 5, 6, 15, 15] },
            { op: 'llama::custom_sdpa', args: [0, 4, 5, 6, 8, 9, 10, 11, 12, 12] },
          ]),
    ];
    return opProgram({ values, calls, outputs: [12, 4, 5], inputs: [0, 1, 2, 3] });
  }

  for (const mode of ['fused', 'composed'] as const) {
    it(`${mode}: prefill then decode steps match a reference with its own cache`, async () => {
      const program = await Program.load(loopProgram(mode));
      const r = rng(mode === 'fused' ? 21 : 22);
      const kCache = new Float64Array(maxSeq * H.Hkv * H.D);
      const vCache = new Float64Array(maxSeq * H.Hkv * H.D);
      let pos = 0;
      for (const n of [5, 1, 1, 3, 1]) {
        const q = floatTensor(randomArray(n * H.Hq * H.D, r, 1.5), [1, n, H.Hq, H.D]);
        const k = floatTensor(randomArray(n * H.Hkv * H.D, r, 1.5), [1, n, H.Hkv, H.D]);
        const v = floatTensor(randomArray(n * H.Hkv * H.D, r), [1, n, H.Hkv, H.D]);
        kCache.set(seen(k), pos * H.Hkv * H.D);
        vCache.set(seen(v), pos * H.Hkv * H.D);
        const [out, kc, vc] = (await program.execute('forward', [q, k, v, new Tensor(new BigInt64Array([BigInt(pos)]), [1])])) as Tensor[];
        expect(out.shape).toEqual([1, n, H.Hq, H.D]);
        expect(Array.from(kc.toFloat32())).toEqual(Array.from(Float32Array.from(kCache)));
        expect(Array.from(vc.toFloat32())).toEqual(Array.from(Float32Array.from(vCache)));
        const ref = sdpaRef({ B: 1, Sq: n, ...H, Skv: maxSeq, startPos: pos, causal: true }, seen(q), kCache, vCache);
        const err = relMaxError(out.toFloat32(), ref);
        measured.push(`${mode} loop step at ${pos} (+${n}): max rel error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL.FLOAT);
        pos += n;
      }
      // Past the end of the cache: rejected, and the cache is left as it was.
      expect(pos + 6).toBeGreaterThan(maxSeq);
      const q = floatTensor(new Float32Array(6 * H.Hq * H.D), [1, 6, H.Hq, H.D]);
      const k = floatTensor(new Float32Array(6 * H.Hkv * H.D).fill(7), [1, 6, H.Hkv, H.D]);
      await expectError(
        program.execute('forward', [q, k, k, new Tensor(new BigInt64Array([BigInt(pos)]), [1])]),
        'InvalidArgument',
        /start_pos/,
      );
      const one = floatTensor(new Float32Array(H.Hkv * H.D).fill(1), [1, 1, H.Hkv, H.D]);
      const [, kc] = (await program.execute('forward', [
        floatTensor(new Float32Array(H.Hq * H.D), [1, 1, H.Hq, H.D]),
        one,
        one,
        new Tensor(new BigInt64Array([BigInt(pos)]), [1]),
      ])) as Tensor[];
      kCache.set(seen(one), pos * H.Hkv * H.D);
      expect(Array.from(kc.toFloat32())).toEqual(Array.from(Float32Array.from(kCache)));
      program.dispose();
    });
  }
});

// ---------------------------------------------------------------------------
// update_cache / update_cache_with_indices

describe('llama::update_cache.out', () => {
  const shape = { B: 2, S: 3, H: 3, D: 5, max: 10 };
  const tok = shape.H * shape.D;

  function program(valueDtype = 'FLOAT', valueHeads = shape.H): Uint8Array {
    return opProgram({
      values: [
        input(valueDtype, [shape.B, shape.S, valueHeads, shape.D]),
        planned('FLOAT', [shape.B, shape.max, shape.H, shape.D]),
        input('LONG', [1]),
        int(0),
        planned('FLOAT', [1]),
      ],
      calls: [
        { op: 'aten::_local_scalar_dense', overload: '', args: [2, 3] },
        { op: 'llama::update_cache', args: [0, 1, 3, 4, 4] },
      ],
      outputs: [1],
    });
  }
  const posT = (p: number) => new Tensor(new BigInt64Array([BigInt(p)]), [1]);

  it('writes rows start_pos..start_pos+S-1 of every batch row; other rows keep their contents', async () => {
    const prog = await Program.load(program());
    const expected = new Float32Array(shape.B * shape.max * tok);
    const r = rng(31);
    for (const pos of [4, 0, 7]) {
      const value = Float32Array.from(randomArray(shape.B * shape.S * tok, r));
      for (let b = 0; b < shape.B; b++)
        expected.set(value.subarray(b * shape.S * tok, (b + 1) * shape.S * tok), (b * shape.max + pos) * tok);
      const [cache] = (await prog.execute('forward', [new Tensor(value, [shape.B, shape.S, shape.H, shape.D]), posT(pos)])) as Tensor[];
      expect(cache.shape).toEqual([shape.B, shape.max, shape.H, shape.D]);
      expect(Array.from(cache.data as Float32Array)).toEqual(Array.from(expected));
    }
    // Out of range: start_pos + S past the end, start_pos at / past the end, negative.
    const value = new Tensor(new Float32Array(shape.B * shape.S * tok).fill(9), [shape.B, shape.S, shape.H, shape.D]);
    for (const pos of [8, 10, 11, -1]) await expectError(prog.execute('forward', [value, posT(pos)]), 'InvalidArgument', /start_pos/);
    // Nothing was written by the failed calls.
    const [cache] = (await prog.execute('forward', [
      new Tensor(sliceRows(expected, 7), [shape.B, shape.S, shape.H, shape.D]),
      posT(7),
    ])) as Tensor[];
    expect(Array.from(cache.data as Float32Array)).toEqual(Array.from(expected));
    prog.dispose();
  });

  /** The S rows at `pos` of every batch row of a cache laid out like `expected`. */
  function sliceRows(cache: Float32Array, pos: number): Float32Array {
    const out = new Float32Array(shape.B * shape.S * tok);
    for (let b = 0; b < shape.B; b++)
      out.set(cache.subarray((b * shape.max + pos) * tok, (b * shape.max + pos + shape.S) * tok), b * shape.S * tok);
    return out;
  }

  it('rejects a value whose dtype or head count differs from the cache', async () => {
    const half = await Program.load(program('HALF'));
    await expectError(
      half.execute('forward', [Tensor.fromFloat32(new Float32Array(shape.B * shape.S * tok), [shape.B, shape.S, shape.H, shape.D], 'float16'), posT(0)]),
      'InvalidArgument',
      /dtype/,
    );
    half.dispose();
    const heads = await Program.load(program('FLOAT', 2));
    await expectError(
      heads.execute('forward', [new Tensor(new Float32Array(shape.B * shape.S * 2 * shape.D), [shape.B, shape.S, 2, shape.D]), posT(0)]),
      'InvalidArgument',
      /heads/,
    );
    heads.dispose();
  });
});

describe('llama::update_cache_with_indices.out', () => {
  const B = 2, S = 3, H = 2, D = 4, max = 6;
  const tok = H * D;

  function program(startPos: number, indexDtype = 'LONG'): Uint8Array {
    return opProgram({
      values: [
        input('FLOAT', [B, S, H, D]),
        planned('FLOAT', [B, max, H, D]),
        int(startPos),
        input(indexDtype, [B, S]),
        planned('FLOAT', [1]),
      ],
      calls: [{ op: 'llama::update_cache_with_indices', args: [0, 1, 2, 3, 4, 4] }],
      outputs: [1],
    });
  }
  const idx = (rows: number[][]) => new Tensor(BigInt64Array.from(rows.flat().map(BigInt)), [B, S]);

  it('copies token (b, s) to cache row indices[b, s] (ring buffer; start_pos may exceed the cache)', async () => {
    const prog = await Program.load(program(1000));
    const value = Float32Array.from(randomArray(B * S * tok, rng(41)));
    const rows = [
      [5, 0, 1],
      [2, 3, 4],
    ];
    const expected = new Float32Array(B * max * tok);
    rows.forEach((rr, b) => rr.forEach((row, s) => expected.set(value.subarray((b * S + s) * tok, (b * S + s + 1) * tok), (b * max + row) * tok)));
    const run = (indices: Tensor) => prog.execute('forward', [new Tensor(value, [B, S, H, D]), indices]);
    const [cache] = (await run(idx(rows))) as Tensor[];
    expect(Array.from(cache.data as Float32Array)).toEqual(Array.from(expected));

    // A bad index fails before anything is written (row 2 of batch 0 stays empty).
    await expectError(run(idx([[2, 6, 0], [0, 1, 2]])), 'InvalidArgument', /index 6 .*\[0, 6\)/);
    await expectError(run(idx([[2, 1, 0], [0, -1, 2]])), 'InvalidArgument', /index -1/);
    const [again] = (await run(idx(rows))) as Tensor[];
    expect(Array.from(again.data as Float32Array)).toEqual(Array.from(expected));
    prog.dispose();
  });

  it('rejects int32 indices', async () => {
    const prog = await Program.load(program(0, 'INT'));
    await expectError(
      prog.execute('forward', [new Tensor(new Float32Array(B * S * tok), [B, S, H, D]), new Tensor(new Int32Array(B * S), [B, S])]),
      'InvalidArgument',
      /int64/,
    );
    prog.dispose();
  });
});

// ---------------------------------------------------------------------------
// custom_quantized_sdpa: int8 q/k/v with per-token scales and zero points.

describe('llama::custom_quantized_sdpa.out', () => {
  interface QTensor {
    t: Tensor;
    zp: Tensor;
    sc: Tensor;
    deq: Float64Array;
  }
  /** Quantizes values per token (last dim) to int8 with an asymmetric scale / zero point. */
  function quantize(values: Float64Array, shape: number[]): QTensor {
    const D = shape[3];
    const tokens = values.length / D;
    const q = new Int8Array(values.length);
    const zps = new Int8Array(tokens);
    const scs = new Float32Array(tokens);
    const deq = new Float64Array(values.length);
    for (let t = 0; t < tokens; t++) {
      const row = values.subarray(t * D, (t + 1) * D);
      const lo = Math.min(0, ...row), hi = Math.max(0, ...row);
      const scale = Math.fround((hi - lo) / 255 || 1);
      const zp = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
      scs[t] = scale;
      zps[t] = zp;
      for (let d = 0; d < D; d++) {
        q[t * D + d] = Math.max(-128, Math.min(127, Math.round(row[d] / scale) + zp));
        deq[t * D + d] = (q[t * D + d] - zp) * scale;
      }
    }
    const pshape = [shape[0], shape[1], shape[2], 1];
    return { t: new Tensor(q, shape, 'int8'), zp: new Tensor(zps, pshape, 'int8'), sc: new Tensor(scs, pshape), deq };
  }

  for (const seqAtDim2 of [false, true]) {
    it(`matches the dequantized reference (${seqAtDim2 ? '[B, H, S, D]' : '[B, S, H, D]'}, GQA, causal at start_pos 4)`, async () => {
      const a: Attn = { B: 1, Sq: 3, Hq: 6, Hkv: 2, D: 20, Skv: 10, startPos: 4, causal: true };
      const r = rng(seqAtDim2 ? 51 : 52);
      const qv = randomArray(a.B * a.Sq * a.Hq * a.D, r, 1.5);
      const kv = randomArray(a.B * a.Skv * a.Hkv * a.D, r, 1.5);
      const vv = randomArray(a.B * a.Skv * a.Hkv * a.D, r);
      // [B, S, H, D] data; for seq-at-dim-2 the tensors are transposed to [B, H, S, D].
      const toBHSD = (x: Float64Array, S: number, Hh: number): Float64Array => {
        const y = new Float64Array(x.length);
        for (let s = 0; s < S; s++) for (let h = 0; h < Hh; h++) for (let d = 0; d < a.D; d++) y[(h * S + s) * a.D + d] = x[(s * Hh + h) * a.D + d];
        return y;
      };
      const fromBHSD = (y: Float64Array, S: number, Hh: number): Float64Array => {
        const x = new Float64Array(y.length);
        for (let s = 0; s < S; s++) for (let h = 0; h < Hh; h++) for (let d = 0; d < a.D; d++) x[(s * Hh + h) * a.D + d] = y[(h * S + s) * a.D + d];
        return x;
      };
      const shapeOf = (S: number, Hh: number) => (seqAtDim2 ? [1, Hh, S, a.D] : [1, S, Hh, a.D]);
      const q = quantize(seqAtDim2 ? toBHSD(qv, a.Sq, a.Hq) : qv, shapeOf(a.Sq, a.Hq));
      const k = quantize(seqAtDim2 ? toBHSD(kv, a.Skv, a.Hkv) : kv, shapeOf(a.Skv, a.Hkv));
      const v = quantize(seqAtDim2 ? toBHSD(vv, a.Skv, a.Hkv) : vv, shapeOf(a.Skv, a.Hkv));
      const values: ValueSpec[] = [
        input('CHAR', [...q.t.shape]),
        input('CHAR', [...k.t.shape]),
        input('CHAR', [...v.t.shape]),
        int(a.startPos),
        none,
        double(0),
        bool(true),
        none,
        input('CHAR', [...q.zp.shape]),
        input('FLOAT', [...q.sc.shape]),
        input('CHAR', [...k.zp.shape]),
        input('FLOAT', [...k.sc.shape]),
        input('CHAR', [...v.zp.shape]),
        input('FLOAT', [...v.sc.shape]),
        bool(seqAtDim2),
        planned('FLOAT', [...q.t.shape]),
      ];
      const prog = await Program.load(
        opProgram({ values, calls: [{ op: 'llama::custom_quantized_sdpa', args: [...values.keys(), 15] }], outputs: [15] }),
      );
      const [out] = (await prog.execute('forward', [q.t, k.t, v.t, q.zp, q.sc, k.zp, k.sc, v.zp, v.sc])) as Tensor[];
      prog.dispose();
      expect(out.dtype).toBe('float32');
      expect(out.shape).toEqual([...q.t.shape]);
      const deq = (x: QTensor, S: number, Hh: number) => (seqAtDim2 ? fromBHSD(x.deq, S, Hh) : x.deq);
      let ref = sdpaRef(a, deq(q, a.Sq, a.Hq), deq(k, a.Skv, a.Hkv), deq(v, a.Skv, a.Hkv));
      if (seqAtDim2) ref = toBHSD(ref, a.Sq, a.Hq);
      const err = relMaxError(out.toFloat32(), ref);
      measured.push(`custom_quantized_sdpa ${seqAtDim2 ? 'BHSD' : 'BSHD'}: max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL.FLOAT);
    });
  }
});
