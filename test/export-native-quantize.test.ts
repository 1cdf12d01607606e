// The addon's weight quantizer and int4 packer (native/export) against the JS reference
// (lib/export/passes/quantize-weights.ts, pte/xnnpack-writer.ts): the same codes and
// scales, byte for byte, since exported files are compared by sha256. Covers the three
// schemes the exporter uses (int4 groups of 32, int8 rows, int4 rows) and other group
// sizes, large tensors (the threaded path), zero rows, huge / tiny / denormal values,
// NaN and infinities, and every 2-D tensor of real checkpoints.
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchError } from '../lib';
import {
  packInt4ForXnnpackAsync,
  packInt4HighFirst,
  packInt4HighFirstAsync,
  quantizeSymmetric,
  quantizeSymmetricAsync,
} from '../lib/export/passes/quantize-weights';
import { packInt4ForXnnpack } from '../lib/export/pte/xnnpack-writer';
import { rng } from './helpers/inputs';
import { parseSafetensorsFile } from './helpers/safetensors-writer';

const checkpoints = path.join(__dirname, 'fixtures', 'checkpoints');

/** Weights of one "kind" per row, so a matrix mixes every case below. */
function matrix(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const kind = i % 9;
    for (let j = 0; j < cols; j++) {
      const u = r() * 2 - 1;
      let x: number;
      switch (kind) {
        case 0: x = u * 0.05; break;                                    // typical weights
        case 1: x = 0; break;                                           // a zero row
        case 2: x = u * 3e38; break;                                    // near float max (w * q overflows)
        case 3: x = u * 1e-38; break;                                   // near the smallest normal
        case 4: x = u * 1e-41; break;                                   // denormals
        case 5: x = (r() < 0.02 ? 40 : 1) * u * 0.02; break;            // outliers
        case 6: x = j % 32 === 0 ? u : 0; break;                        // mostly zero groups
        case 7: x = 0.25; break;                                        // constant: exact halves
        default: x = Math.round(u * 16) / 2; break;                     // exact multiples: ties to even
      }
      w[i * cols + j] = x;
    }
  }
  return w;
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function expectSame(w: Float32Array, rows: number, cols: number, groupSize: number, qmin: number, qmax: number): Promise<void> {
  const ref = quantizeSymmetric(w, rows, cols, groupSize, qmin, qmax);
  const got = await quantizeSymmetricAsync(w, rows, cols, groupSize, qmin, qmax);
  expect(got.q.length).toBe(ref.q.length);
  expect(got.scales.length).toBe(ref.scales.length);
  // Locate the first difference for a readable failure, then compare every byte.
  const s = ref.scales.findIndex((x, i) => !Object.is(x, got.scales[i]));
  expect(s === -1 ? 'same' : `scale ${s}: ${got.scales[s]} vs ${ref.scales[s]}`).toBe('same');
  const k = ref.q.findIndex((x, i) => x !== got.q[i]);
  expect(k === -1 ? 'same' : `code ${k}: ${got.q[k]} vs ${ref.q[k]}`).toBe('same');
  expect(bytes(got.scales).equals(bytes(ref.scales))).toBe(true);
  expect(bytes(got.q).equals(bytes(ref.q))).toBe(true);
}

describe('native quantizeSymmetric = the JS reference', () => {
  const cases: Array<[string, number, number, number, number, number]> = [
    // name, rows, cols, groupSize, qmin, qmax
    ['int4 groups of 32 (8da4w, 4w)', 45, 256, 32, -8, 7],
    ['int8 rows (8da8w, 8w, qembedding 8w)', 45, 256, 256, -128, 127],
    ['int4 rows (qembedding 4w)', 45, 256, 256, -8, 7],
    ['int8 groups of 64', 27, 128, 64, -128, 127],
    ['int4 groups of 128', 18, 384, 128, -8, 7],
    ['one row', 1, 96, 32, -8, 7],
    ['asymmetric small range', 18, 64, 16, -4, 3],
    ['large int4 groups (threaded)', 360, 2048, 32, -8, 7],
    ['large int8 rows (threaded)', 360, 2048, 2048, -128, 127],
    ['large int4 rows (threaded)', 90, 4096, 4096, -8, 7],
  ];
  for (const [name, rows, cols, groupSize, qmin, qmax] of cases) {
    it(`${name}: [${rows}, ${cols}] / ${groupSize}, [${qmin}, ${qmax}]`, async () => {
      for (const seed of [1, 2, 3]) await expectSame(matrix(rows, cols, seed * 7919 + rows), rows, cols, groupSize, qmin, qmax);
    });
  }

  it('plain uniform and gaussian-like weights at several scales', async () => {
    const r = rng(42);
    for (const scale of [1e-3, 0.02, 1, 1e4]) {
      const w = Float32Array.from({ length: 64 * 512 }, () => (r() + r() + r() - 1.5) * scale);
      await expectSame(w, 64, 512, 32, -8, 7);
      await expectSame(w, 64, 512, 512, -128, 127);
      await expectSame(w, 64, 512, 512, -8, 7);
    }
  });

  it('NaN and infinite weights (the scales and codes JS stores for them)', async () => {
    const w = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i) * 0.1);
    w.set([NaN], 3);
    w.set([Infinity], 70);
    w.set([-Infinity], 140);
    w.set([NaN, Infinity], 200);
    w.set([3.4e38, -3.4e38], 300);
    await expectSame(w, 8, 64, 32, -8, 7);
    await expectSame(w, 8, 64, 64, -128, 127);
    await expectSame(w, 8, 64, 64, -8, 7);
  });

  it('empty and all-zero tensors', async () => {
    await expectSame(new Float32Array(0), 0, 64, 32, -8, 7);
    await expectSame(new Float32Array(8 * 64), 8, 64, 32, -8, 7);
    await expectSame(new Float32Array(8 * 64), 8, 64, 64, -128, 127);
  });

  it('every 2-D tensor of the llama and qwen3 fixture checkpoints, in all three schemes', async () => {
    let tensors = 0;
    for (const model of ['llama', 'qwen3']) {
      for (const t of parseSafetensorsFile(path.join(checkpoints, model, 'model.safetensors'))) {
        if (t.dtype !== 'F32' || t.shape.length !== 2) continue;
        const [rows, cols] = t.shape;
        const w = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
        if (cols % 32 === 0) await expectSame(w, rows, cols, 32, -8, 7);
        await expectSame(w, rows, cols, cols, -128, 127);
        await expectSame(w, rows, cols, cols, -8, 7);
        tensors++;
      }
    }
    expect(tensors).toBeGreaterThan(10);
  });

  it('rejects bad shapes with ExecuTorchError codes', async () => {
    const w = new Float32Array(64);
    await expect(quantizeSymmetricAsync(w, 2, 32, 12, -8, 7)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(quantizeSymmetricAsync(w, 3, 32, 32, -8, 7)).rejects.toMatchObject({ code: 'InvalidArgument' });
    const err = await quantizeSymmetricAsync(w, 2, 32, 32, -300, 7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecuTorchError);
    expect((err as ExecuTorchError).code).toBe('InvalidArgument');
  });
});

describe('native int4 packing = the JS reference', () => {
  it('low nibble first (XNNPACK) and high nibble first (embedding_4bit)', async () => {
    const r = rng(7);
    for (const [rows, cols] of [[1, 2], [3, 64], [17, 2048], [5, 7]]) {
      const q = Int8Array.from({ length: rows * cols }, () => Math.floor(r() * 16) - 8);
      expect(bytes(await packInt4ForXnnpackAsync(q, rows, cols)).equals(bytes(packInt4ForXnnpack(q, rows, cols)))).toBe(true);
      if (cols % 2 === 0) expect(bytes(await packInt4HighFirstAsync(q, rows, cols)).equals(bytes(packInt4HighFirst(q, rows, cols)))).toBe(true);
    }
  });

  it('refuses odd rows (high first) and values outside int4', async () => {
    await expect(packInt4HighFirstAsync(new Int8Array(6), 2, 3)).rejects.toMatchObject({ code: 'NotSupported' });
    const q = new Int8Array(64);
    q[37] = 8;
    await expect(packInt4ForXnnpackAsync(q, 2, 32)).rejects.toMatchObject({ code: 'InvalidArgument' });
    q[37] = -9;
    await expect(packInt4HighFirstAsync(q, 2, 32)).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
