// quantized_decomposed::embedding_{byte,4bit,2bit}.{out,dtype_out} on programs that
// call one op, against a reference that repeats the float32 arithmetic
// out = float32(float32(w - zp) * scale) exactly, so results must match bit for bit.
import { describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor, float32ToFloat16Bits, float16BitsToFloat32 } from '../lib';
import { constant, input, int, none, opProgram, planned, rng, ValueSpec } from './helpers/op-program';

type Bits = 8 | 4 | 2;
const OP: Record<Bits, string> = {
  8: 'quantized_decomposed::embedding_byte',
  4: 'quantized_decomposed::embedding_4bit',
  2: 'quantized_decomposed::embedding_2bit',
};
const RANGE: Record<Bits, [number, number]> = { 8: [-128, 127], 4: [-8, 7], 2: [-2, 1] };

/** Packs a [V, D] table of signed values: 4-bit even element in the high nibble; 2-bit element m of 4 at bits 2m. */
function pack(values: number[], bits: Bits, signed8 = true): Uint8Array {
  if (bits === 8) return signed8 ? new Uint8Array(Int8Array.from(values).buffer) : Uint8Array.from(values);
  const per = 8 / bits;
  const out = new Uint8Array(values.length / per);
  for (let k = 0; k < out.length; k++) {
    if (bits === 4) out[k] = ((values[2 * k] + 8) << 4) | (values[2 * k + 1] + 8);
    else for (let m = 0; m < 4; m++) out[k] |= (values[4 * k + m] + 2) << (2 * m);
  }
  return out;
}

interface Case {
  bits: Bits;
  V: number;
  D: number;
  G: number; // groups per row; scales are [V] when scales1d
  scales1d?: boolean;
  zeroPoints: boolean;
  paramDtype?: 'FLOAT' | 'HALF' | 'BFLOAT16';
  outDtype?: 'FLOAT' | 'HALF';
  dtypeArg?: number | null; // undefined: the .out overload; null: .dtype_out with None
  indicesShape: number[];
  unsignedBytes?: boolean; // embedding_byte with a uint8 table
  weightAsConstant?: boolean;
}

interface Built {
  program: Uint8Array;
  inputs: Tensor[];
  expected: number[];
  outShape: number[];
}

const JS = { FLOAT: 'float32', HALF: 'float16', BFLOAT16: 'bfloat16' } as const;

function build(c: Case, seed: number, indexValues?: number[]): Built {
  const r = rng(seed);
  const [lo, hi] = c.unsignedBytes ? [0, 255] : RANGE[c.bits];
  const w = Array.from({ length: c.V * c.D }, () => Math.floor(r(lo, hi + 1)));
  const nParams = c.V * c.G;
  const pd = c.paramDtype ?? 'FLOAT';
  const toParam = (x: number[]): Tensor =>
    pd === 'FLOAT'
      ? new Tensor(Float32Array.from(x), c.scales1d ? [c.V] : [c.V, c.G])
      : Tensor.fromFloat32(Float32Array.from(x), c.scales1d ? [c.V] : [c.V, c.G], JS[pd]);
  const scales = toParam(Array.from({ length: nParams }, () => r(0.001, 0.05)));
  const zps = toParam(Array.from({ length: nParams }, () => Math.round(r(lo, hi) / 3)));
  const n = c.indicesShape.reduce((a, b) => a * b, 1);
  const idx = indexValues ?? Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i === 1 ? c.V - 1 : Math.floor(r(0, c.V))));
  const indices = new Tensor(BigInt64Array.from(idx.map(BigInt)), c.indicesShape);

  const sc = scales.toFloat32();
  const zp = zps.toFloat32();
  const group = c.D / c.G;
  const expected: number[] = [];
  for (const row of idx)
    for (let j = 0; j < c.D; j++) {
      const g = row * c.G + Math.floor(j / group);
      const z = c.zeroPoints ? zp[g] : 0;
      const val = Math.fround(Math.fround(w[row * c.D + j] - z) * sc[g]);
      expected.push(c.outDtype === 'HALF' ? float16BitsToFloat32(float32ToFloat16Bits(val)) : val);
    }

  const packed = pack(w, c.bits, !c.unsignedBytes);
  const wDtype = c.bits === 8 && !c.unsignedBytes ? 'CHAR' : 'BYTE';
  const wShape = [c.V, (c.D * c.bits) / 8];
  const weight =
    wDtype === 'CHAR' ? new Tensor(new Int8Array(packed.buffer), wShape, 'int8') : new Tensor(packed, wShape, 'uint8');
  const outShape = [...c.indicesShape, c.D];
  const values: ValueSpec[] = [
    c.weightAsConstant ? constant(wDtype, wShape, packed) : input(wDtype, wShape),
    input(pd, [...scales.shape]),
    c.zeroPoints ? input(pd, [...zps.shape]) : none,
    int(RANGE[c.bits][0]),
    int(RANGE[c.bits][1]),
    input('LONG', c.indicesShape),
  ];
  if (c.dtypeArg !== undefined) values.push(c.dtypeArg === null ? none : int(c.dtypeArg));
  values.push(planned(c.outDtype ?? 'FLOAT', outShape));
  const out = values.length - 1;
  const args = [...values.keys(), out];
  const program = opProgram({
    values,
    calls: [{ op: OP[c.bits], overload: c.dtypeArg === undefined ? 'out' : 'dtype_out', args }],
    outputs: [out],
  });
  const inputs = [...(c.weightAsConstant ? [] : [weight]), scales, ...(c.zeroPoints ? [zps] : []), indices];
  return { program, inputs, expected, outShape };
}

async function run(b: Built): Promise<Tensor> {
  const program = await Program.load(b.program);
  try {
    const [out] = await program.execute('forward', b.inputs);
    return out as Tensor;
  } finally {
    program.dispose();
  }
}

async function check(c: Case, seed: number): Promise<void> {
  const b = build(c, seed);
  const out = await run(b);
  expect(out.dtype).toBe(c.outDtype === 'HALF' ? 'float16' : 'float32');
  expect(out.shape).toEqual(b.outShape);
  expect(Array.from(out.toFloat32())).toEqual(b.expected);
}

async function expectError(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExecuTorchError);
  expect((err as ExecuTorchError).code).toBe(code);
  if (pattern) expect((err as ExecuTorchError).message).toMatch(pattern);
}

describe('quantized_decomposed::embedding_byte', () => {
  it('.out: int8 constant table, group-wise scales and zero points, 2-D indices', async () => {
    await check({ bits: 8, V: 11, D: 12, G: 3, zeroPoints: true, indicesShape: [2, 5], weightAsConstant: true }, 1);
  });

  it('.dtype_out: per-row 1-D scales, no zero points, dtype float32', async () => {
    await check({ bits: 8, V: 9, D: 7, G: 1, scales1d: true, zeroPoints: false, dtypeArg: 6, indicesShape: [4] }, 2);
  });

  it('.out: uint8 table with zero points', async () => {
    await check({ bits: 8, V: 6, D: 8, G: 2, zeroPoints: true, indicesShape: [3], unsignedBytes: true }, 3);
  });

  it('.dtype_out: float16 scales and zero points into a float16 output', async () => {
    await check({ bits: 8, V: 10, D: 16, G: 4, zeroPoints: true, paramDtype: 'HALF', outDtype: 'HALF', dtypeArg: 5, indicesShape: [1, 6] }, 4);
  });

  it('rejects an out-of-range index with InvalidArgument naming the index and the row count', async () => {
    const c: Case = { bits: 8, V: 11, D: 12, G: 3, zeroPoints: true, indicesShape: [3] };
    await expectError(run(build(c, 5, [0, 11, 2])), 'InvalidArgument', /index 11 .*11 rows/);
    await expectError(run(build(c, 5, [-1, 0, 2])), 'InvalidArgument', /index -1 .*11 rows/);
  });

  it('rejects a dtype argument that differs from out, and groups that do not divide D', async () => {
    await expectError(
      run(build({ bits: 8, V: 4, D: 6, G: 1, zeroPoints: false, dtypeArg: 5, indicesShape: [2] }, 6)),
      'InvalidArgument',
      /dtype/,
    );
    await expectError(run(build({ bits: 8, V: 4, D: 6, G: 4, zeroPoints: false, indicesShape: [2] }, 7)), 'InvalidArgument', /groups/);
  });
});

describe('quantized_decomposed::embedding_4bit', () => {
  it('puts the even element in the high nibble (stored v + 8)', async () => {
    // One row, D = 4: bytes 0x1F 0x80 hold [-7, 7, 0, -8].
    const values: ValueSpec[] = [
      constant('BYTE', [1, 2], Uint8Array.from([0x1f, 0x80])),
      input('FLOAT', [1]),
      none,
      int(-8),
      int(7),
      input('LONG', [1]),
      planned('FLOAT', [1, 4]),
    ];
    const out = await run({
      program: opProgram({ values, calls: [{ op: OP[4], args: [0, 1, 2, 3, 4, 5, 6, 6] }], outputs: [6] }),
      inputs: [new Tensor(Float32Array.from([1]), [1]), new Tensor(BigInt64Array.from([0n]), [1])],
      expected: [],
      outShape: [1, 4],
    });
    expect(Array.from(out.data as Float32Array)).toEqual([-7, 7, 0, -8]);
  });

  it('.out: groups that split a byte (D = 10, 2 groups), zero points, 2-D indices', async () => {
    await check({ bits: 4, V: 7, D: 10, G: 2, zeroPoints: true, indicesShape: [3, 2] }, 11);
  });

  it('.dtype_out: bfloat16 per-row scales [V, 1], dtype None, constant table', async () => {
    await check({ bits: 4, V: 13, D: 32, G: 1, zeroPoints: false, paramDtype: 'BFLOAT16', dtypeArg: null, indicesShape: [5], weightAsConstant: true }, 12);
  });

  it('rejects an out-of-range index', async () => {
    await expectError(run(build({ bits: 4, V: 7, D: 10, G: 2, zeroPoints: true, indicesShape: [2] }, 13, [3, 7])), 'InvalidArgument', /index 7 .*7 rows/);
  });
});

describe('quantized_decomposed::embedding_2bit', () => {
  it('.out: element m of each group of 4 in bits 2m..2m+1 (stored v + 2)', async () => {
    await check({ bits: 2, V: 5, D: 8, G: 2, zeroPoints: true, indicesShape: [6] }, 21);
  });

  it('.dtype_out: float16 output', async () => {
    await check({ bits: 2, V: 3, D: 12, G: 3, zeroPoints: false, outDtype: 'HALF', dtypeArg: 5, indicesShape: [2, 2] }, 22);
  });
});
