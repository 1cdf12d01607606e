// Hostile input: truncated and bit-flipped programs, bad paths, bad inputs.
// Every failure must be an ExecuTorchError; the process must never crash.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor } from '../lib';
import { inputsFor, rng } from './helpers/inputs';
import { pteWildDir, wildFiles } from './helpers/paths';

const MEMORY_LIMIT = 256 * 1024 * 1024;
const MAX_INPUT_ELEMENTS = 1 << 16;

/** Loads bytes and runs every method; returns 'loaded' / 'ran' / the error code. */
async function exercise(bytes: Uint8Array): Promise<string[]> {
  const outcomes: string[] = [];
  let program: Program;
  try {
    program = await Program.load(bytes, { threads: 1, memoryLimit: MEMORY_LIMIT });
  } catch (err) {
    expect(err).toBeInstanceOf(ExecuTorchError);
    return [`load:${(err as ExecuTorchError).code}`];
  }
  try {
    let names: string[] = [];
    try {
      names = program.methodNames;
    } catch (err) {
      expect(err).toBeInstanceOf(ExecuTorchError);
      return ['names-failed'];
    }
    for (const name of names) {
      try {
        const meta = program.methodMeta(name);
        const inputs = inputsFor(meta, MAX_INPUT_ELEMENTS);
        if (!inputs) {
          outcomes.push('skipped-large-input');
          continue;
        }
        await program.execute(name, inputs);
        outcomes.push('ran');
      } catch (err) {
        if (!(err instanceof ExecuTorchError)) throw err;
        outcomes.push(`run:${err.code}`);
      }
    }
  } finally {
    program.dispose();
  }
  return outcomes;
}

// Programs to mutate: every .pte fixture (the largest is under 4 MB).
function corpus(): { name: string; bytes: Uint8Array }[] {
  return wildFiles(/\.pte$/)
    .map((name) => ({ name, bytes: new Uint8Array(fs.readFileSync(path.join(pteWildDir(), name))) }))
    .filter((f) => f.bytes.length <= 4 * 1024 * 1024);
}

describe('hostile files', () => {
  it('rejects a zero-length file, a directory and a missing path with ExecuTorchError', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-hostile-'));
    const empty = path.join(dir, 'empty.pte');
    fs.writeFileSync(empty, '');
    const cases: [string | Uint8Array, string][] = [
      [empty, 'InvalidProgram'],
      [dir, 'InvalidArgument'],
      [path.join(dir, 'missing.pte'), 'NotFound'],
      [new Uint8Array(0), 'InvalidProgram'],
      [new Uint8Array([1, 2, 3]), 'InvalidProgram'],
    ];
    for (const [source, code] of cases) {
      const err = await Program.load(source).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecuTorchError);
      expect((err as ExecuTorchError).code).toBe(code);
    }
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects every file truncated at each 1/64 of its length', async () => {
    let cases = 0;
    for (const name of wildFiles(/\.pte$/)) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(pteWildDir(), name)));
      for (let k = 1; k < 64; k++) {
        const cut = Math.floor((bytes.length * k) / 64);
        const outcomes = await exercise(bytes.subarray(0, cut));
        cases++;
        // A cut file must be refused at load: nothing of a program is optional.
        expect(outcomes[0], `${name} cut at ${cut}/${bytes.length}`).toMatch(/^load:InvalidProgram$/);
      }
    }
    expect(cases).toBeGreaterThan(63 * 40);
  });

  it('survives 20,000 seeded bit-flip mutations with only ExecuTorchErrors', async () => {
    const files = corpus();
    const random = rng(20261128);
    const tally = new Map<string, number>();
    const total = 20_000;
    const concurrency = 4;
    let next = 0;
    async function worker(): Promise<void> {
      while (next < total) {
        const i = next++;
        const file = files[i % files.length];
        const mutated = new Uint8Array(file.bytes);
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          const pos = Math.floor(random() * mutated.length);
          mutated[pos] ^= 1 << Math.floor(random() * 8);
        }
        for (const o of await exercise(mutated)) tally.set(o, (tally.get(o) ?? 0) + 1);
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    const summary = [...tally.entries()].sort((a, b) => b[1] - a[1]);
    console.log(`bit flips over ${files.length} files:`, Object.fromEntries(summary));
    // The mutations must reach execution often, or the test proves little.
    expect(tally.get('ran') ?? 0).toBeGreaterThan(1000);
  });
});

describe('hostile inputs', () => {
  const addPath = (): string => path.join(pteWildDir(), 'kadu-v__berry-executorch/resource__model__add@dcc914635c.pte');
  const dynamicPath = (): string =>
    path.join(pteWildDir(), 'corey-cole__djl-executorch-engine/native__spike__prim_input@94c8174c30.pte');

  async function codeOf(p: Promise<unknown>): Promise<string> {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ExecuTorchError);
    return (err as ExecuTorchError).code;
  }

  it('rejects wrong input count, dtype, shape and rank', async () => {
    const program = await Program.load(addPath());
    const one = new Tensor(new Float32Array([1]), [1]);
    expect(await codeOf(program.execute('forward', [one]))).toBe('InvalidArgument');
    expect(await codeOf(program.execute('forward', [one, one, one]))).toBe('InvalidArgument');
    expect(await codeOf(program.execute('forward', [one, new Tensor(new Int32Array([1]), [1])]))).toBe('InvalidArgument');
    expect(await codeOf(program.execute('forward', [one, new Tensor(new Float32Array([1, 2]), [2])]))).toBe('InvalidArgument');
    expect(await codeOf(program.execute('forward', [one, new Tensor(new Float32Array([1]), [1, 1])]))).toBe('InvalidArgument');
    expect(await codeOf(program.execute('forward', [one, 3]))).toBe('InvalidArgument');
    expect(await codeOf(program.execute('nope', []))).toBe('NotFound');
    // The method still works after all that.
    const [sum] = await program.execute('forward', [one, one]);
    expect(Array.from((sum as Tensor).data as Float32Array)).toEqual([2]);
    program.dispose();
    expect(await codeOf(program.execute('forward', [one, one]))).toBe('Disposed');
  });

  it('rejects a scalar input that differs from the exported value', async () => {
    const program = await Program.load(dynamicPath());
    const x = new Tensor(new Float32Array([1, 2, 3, 4]), [4]);
    expect(await codeOf(program.execute('forward', [x, 3.0]))).toBe('InvalidArgument');
    const [y] = await program.execute('forward', [x, 2.0]);
    expect(Array.from((y as Tensor).data as Float32Array)).toEqual([2, 4, 6, 8]);
    program.dispose();
  });
});
