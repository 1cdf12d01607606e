// The package surface: Tensor, dtypes, errors, and ESM + CommonJS consumers.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor, bfloat16BitsToFloat32, float16BitsToFloat32 } from '../lib';
import { repoRoot, pteWildDir } from './helpers/paths';

describe('Tensor', () => {
  it('infers dtype from the TypedArray and checks the shape', () => {
    expect(new Tensor(new Float32Array(6), [2, 3]).dtype).toBe('float32');
    expect(new Tensor(new BigInt64Array(2), [2]).dtype).toBe('int64');
    expect(new Tensor(new Int32Array(4)).shape).toEqual([4]);
    expect(new Tensor(new Uint8Array([1, 0]), [2], 'bool').dtype).toBe('bool');
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(ExecuTorchError);
    expect(() => new Tensor(new Float32Array(2), [2], 'int64' as never)).toThrow(/BigInt64Array/);
    expect(() => new Tensor(new Float32Array(2), [-2])).toThrow(ExecuTorchError);
  });

  it('builds from plain arrays and round-trips float16 / bfloat16', () => {
    expect(new Tensor([1n, 2n], [2]).dtype).toBe('int64');
    const half = Tensor.fromFloat32([1, -2.5, 65504, 1e-7, 0.1], [5], 'float16');
    expect(half.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(half.toFloat32())).toEqual([1, -2.5, 65504, float16BitsToFloat32(half.data[3] as number), float16BitsToFloat32(0x2e66)]);
    expect(half.data[4]).toBe(0x2e66); // 0.1 rounds to 0x2e66 in IEEE half
    const bf = Tensor.fromFloat32([1, 3.140625, -0.1], [3], 'bfloat16');
    expect(bf.data[0]).toBe(0x3f80);
    expect(bfloat16BitsToFloat32(bf.data[1] as number)).toBe(3.140625);
    expect(bf.data[2]).toBe(0xbdcd); // -0.1 to nearest even
  });
});

const addPte = (): string => path.join(pteWildDir(), 'kadu-v__berry-executorch/resource__model__add@dcc914635c.pte');

describe('package entry points', () => {
  const script = `
    const x = new m.Tensor(new Float32Array([2]), [1]);
    const p = await m.Program.load(${JSON.stringify('__PTE__')});
    const [y] = await p.execute('forward', [x, x]);
    console.log(y.data[0], typeof m.ExecuTorchError);
  `;

  it('works from CommonJS require()', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-cjs-'));
    const file = path.join(dir, 'main.cjs');
    fs.writeFileSync(file, `const m = require(${JSON.stringify(repoRoot)});\n(async () => {${script.replace('__PTE__', addPte())}})();`);
    expect(execFileSync(process.execPath, [file]).toString().trim()).toBe('4 function');
  });

  it('works from an ES module import (named and default)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-esm-'));
    const file = path.join(dir, 'main.mjs');
    const entry = path.join(repoRoot, 'dist', 'index.mjs');
    fs.writeFileSync(
      file,
      `import * as m from ${JSON.stringify(entry)};\nimport d from ${JSON.stringify(entry)};\nif (d.Program !== m.Program) throw new Error('two copies');\n${script.replace('__PTE__', addPte())}`,
    );
    expect(execFileSync(process.execPath, [file]).toString().trim()).toBe('4 function');
  });
});

describe('Program', () => {
  it('reports method metadata for every method, including constant methods', async () => {
    const p = await Program.load(path.join(pteWildDir(), 'corey-cole__executorch-numpy-runtime/tests__models__const_methods@51e19fab88.pte'));
    expect(p.methodNames).toEqual(['forward', 'get_scalar', 'get_double', 'get_bool', 'get_tensor']);
    const fwd = p.methodMeta('forward');
    expect(fwd.inputs).toEqual([{ kind: 'tensor', dtype: 'float32', shape: [3], dimOrder: [0], dynamism: 'static' }]);
    expect(fwd.operators.map((o) => o.name)).toEqual(['dim_order_ops::_to_dim_order_copy.out', 'aten::add.out']);
    expect(fwd.plannedBufferSizes).toEqual([48]);
    expect(p.methodMeta('get_scalar').outputs).toEqual([{ kind: 'int', value: 128 }]);
    expect(await p.execute('get_scalar')).toEqual([128]);
    expect(await p.execute('get_double')).toEqual([2.5]);
    expect(await p.execute('get_bool')).toEqual([true]);
    const [t] = await p.execute('get_tensor');
    expect(t).toBeInstanceOf(Tensor);
    expect(Array.from((t as Tensor<'int64'>).data)).toEqual([1n, 2n, 3n]);
    expect(() => p.methodMeta('missing')).toThrow(/no method named 'missing'/);
    p.dispose();
    expect(() => p.methodNames).toThrow(ExecuTorchError);
  });

  it('loads from a Buffer as well as from a path, and rejects bad options', async () => {
    const bytes = fs.readFileSync(addPte());
    const p = await Program.load(bytes);
    expect(p.methodNames).toEqual(['forward']);
    p.dispose();
    await expect(Program.load(addPte(), { threads: 0 })).rejects.toThrow(/threads/);
    await expect(Program.load(42 as never)).rejects.toThrow(ExecuTorchError);
  });

  it('queues calls to one method and runs them in order', async () => {
    const p = await Program.load(addPte());
    const calls = Array.from({ length: 50 }, (_, i) => p.execute('forward', [new Tensor(new Float32Array([i]), [1]), new Tensor(new Float32Array([1]), [1])]));
    const results = await Promise.all(calls);
    expect(results.map(([t]) => (t as Tensor<'float32'>).data[0])).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    p.dispose();
  });
});
