// dispose() frees what a program holds: repeated load / execute / dispose
// cycles must not grow the process.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Program, Tensor } from '../lib';
import { loopProgram } from './helpers/loop-program';
import { pteWildDir } from './helpers/paths';

async function cycle(bytes: Uint8Array, x: Tensor, fromPath?: string): Promise<void> {
  const p = await Program.load(fromPath ?? bytes, { threads: 1 });
  await p.execute('forward', [x]);
  p.dispose();
}

describe('lifecycle', () => {
  it('does not leak across 300 load/execute/dispose cycles of a 16 MiB-planned program', async () => {
    const n = 1 << 21; // 8 MiB per tensor, 16 MiB planned
    const bytes = loopProgram(n, 1);
    const x = new Tensor(new Float32Array(n).fill(1), [n]);
    for (let i = 0; i < 20; i++) await cycle(bytes, x); // warm up allocators and JIT
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 300; i++) await cycle(bytes, x);
    global.gc?.();
    await new Promise((r) => setTimeout(r, 50));
    const grown = (process.memoryUsage().rss - before) / 1048576;
    console.log(`RSS grew ${grown.toFixed(1)} MiB over 300 cycles of 24 MiB allocated and freed each`);
    // Each cycle maps 16 MiB of planned memory and returns an 8 MiB output;
    // a leak of either would add >2 GiB here.
    expect(grown).toBeLessThan(200);
  });

  it('unmaps program files on dispose (no growth of mapped files)', async () => {
    const file = path.join(pteWildDir(), 'corey-cole__djl-executorch-engine/src__test__resources__models__stress__stress_mlp@6d3450d6d3.pte');
    const countMaps = (): number => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('stress_mlp')).length;
    const programs = await Promise.all(Array.from({ length: 5 }, () => Program.load(file)));
    expect(countMaps()).toBeGreaterThanOrEqual(5);
    for (const p of programs) p.dispose();
    expect(countMaps()).toBe(0);
  });
});
