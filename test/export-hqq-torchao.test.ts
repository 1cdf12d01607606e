// The exporter's weight quantizer against torchao itself: test/fixtures/hqq holds
// matrices quantized by torchao's scale-only HQQ (tools/interop/hqq), the function
// optimum-executorch's default path calls. The JS reference and the addon's port must
// give the same codes and float32 scales bit for bit: that is what makes our 8da4w /
// 8w / qembedding bytes the official exporter's.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { quantizeSymmetric, quantizeSymmetricAsync } from '../lib/export/passes/quantize-weights';
import { torchRowSum } from '../lib/export/passes/torch-sum';
import { repoRoot } from './helpers/paths';

interface Case {
  name: string;
  rows: number;
  cols: number;
  group: number;
  qmin: number;
  qmax: number;
}

const dir = path.join(repoRoot, 'test', 'fixtures', 'hqq');
const cases = (JSON.parse(fs.readFileSync(path.join(dir, 'INDEX.json'), 'utf8')) as { cases: Case[] }).cases;

function read<T>(c: Case, suffix: string, make: (b: ArrayBuffer) => T): T {
  const bytes = fs.readFileSync(path.join(dir, `${c.name}.${suffix}.bin`));
  return make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Indices where two arrays differ (bitwise for floats), at most 5. */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length && out.length < 5; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

describe.each(cases.map((c) => [c.name, c] as const))('torchao HQQ %s', (_name, c) => {
  const w = read(c, 'w', (b) => new Float32Array(b));
  const q = read(c, 'q', (b) => new Int8Array(b));
  const s = read(c, 's', (b) => new Float32Array(b));

  it('the JS reference gives torchao codes and scales', () => {
    const ours = quantizeSymmetric(w, c.rows, c.cols, c.group, c.qmin, c.qmax);
    expect(differences(ours.scales, s), 'scale indices that differ').toEqual([]);
    expect(differences(ours.q, q), 'code indices that differ').toEqual([]);
  });

  it('the addon gives torchao codes and scales', async () => {
    const ours = await quantizeSymmetricAsync(w, c.rows, c.cols, c.group, c.qmin, c.qmax);
    expect(differences(ours.scales, s), 'scale indices that differ').toEqual([]);
    expect(differences(ours.q, q), 'code indices that differ').toEqual([]);
  });
});

describe('torch-order float32 sum', () => {
  it('differs from the exactly rounded sum where the order matters, and equals it for exact sums', () => {
    const ints = Float32Array.from({ length: 100 }, (_, i) => i - 50);
    expect(torchRowSum(ints, 0, 100)).toBe(-50);
    // 2^24 + 1 + 1 ...: order-dependent in float32
    const x = new Float32Array(40).fill(1);
    x[0] = 2 ** 24;
    const exact = Math.fround(2 ** 24 + 39);
    expect(torchRowSum(x, 0, 40)).not.toBe(exact);
  });
});
