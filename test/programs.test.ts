// Every program in shared/fixtures/pte-wild against the official ExecuTorch
// runtime (outputs recorded by tools/interop, executorch 1.5.1):
//  - programs the official runtime runs: same outputs (float32 within 1e-5
//    relative on portable kernels; 1e-4 where an XNNPACK delegate computes,
//    since it sums in another order; integers and bools exact);
//  - programs it cannot run: we fail the same way, naming the missing backend
//    or operator;
//  - programs it refuses (legacy inline constants): we run them, checked
//    against hand-computed references below.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor } from '../lib';
import { compareOutput, officialFixture, officialInput, pairedDataFile } from './helpers/official';
import { pteWildDir, wildFiles } from './helpers/paths';

const PORTABLE_RTOL = 1e-5;
const XNNPACK_RTOL = 1e-4;

async function loadWild(file: string): Promise<Program> {
  const data = pairedDataFile(file);
  return Program.load(path.join(pteWildDir(), file), { dataFiles: data ? [path.join(pteWildDir(), data)] : [] });
}

async function errorOf(p: Promise<unknown>): Promise<ExecuTorchError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected an ExecuTorchError').toBeInstanceOf(ExecuTorchError);
  return err as ExecuTorchError;
}

const report: string[] = [];

describe.each(wildFiles(/\.pte$/))('%s', (file) => {
  const official = officialFixture(file);

  it('has an official reference', () => {
    expect(official, `no fixture for ${file}; run tools/interop/make_official_outputs.py`).toBeDefined();
  });
  if (!official) return;

  if (!official.load.ok && /constant_buffer/.test(JSON.stringify(official.load))) {
    it('loads (legacy constant_buffer, which the official 1.5.1 build refuses)', async () => {
      const p = await loadWild(file);
      expect(p.info.legacyConstantBuffers).toBeGreaterThan(0);
      p.dispose();
    });
    return;
  }

  if (file.includes('linear@3e188fe119')) {
    it('rejects the Feb-2025 .ptd layout with a clear error (the official runtime misreads it)', async () => {
      const err = await errorOf(loadWild(file));
      expect(err.code).toBe('InvalidProgram');
      expect(err.message).toMatch(/linear@3e188fe119\.ptd.*(older|layout)/);
    });
    return;
  }

  for (const [method, spec] of Object.entries(official.methods)) {
    if (spec.error) {
      it(`${method}: fails like the official runtime, naming what is missing`, async () => {
        const p = await loadWild(file);
        const meta = p.methodMeta(method);
        const err = await errorOf(p.loadMethod(method));
        const text = `${spec.error!.message}\n${(spec.error!.log ?? []).join('\n')}`;
        const missingOps = [...text.matchAll(/Missing operator: \[\d+\] (\S+)/g)].map((m) => m[1]);
        if (missingOps.length > 0) {
          expect(err.code).toBe('OperatorMissing');
          for (const op of missingOps) expect(err.message).toContain(op);
        } else {
          expect(err.code).toBe('BackendNotAvailable');
          const foreign = meta.delegates.map((d) => d.id).filter((id) => id !== 'XnnpackBackend');
          expect(foreign.length).toBeGreaterThan(0);
          expect(err.message).toContain(foreign[0]);
        }
        p.dispose();
      });
      continue;
    }
    for (const c of spec.cases ?? []) {
      it(`${method} [${c.name}] matches the official outputs`, async () => {
        const p = await loadWild(file);
        const meta = p.methodMeta(method);
        const delegated = meta.delegates.some((d) => d.id === 'XnnpackBackend');
        const inputs = c.inputs.map(officialInput);
        if (c.expectError) {
          const err = await errorOf(p.execute(method, inputs));
          expect(err.code).toBe('InvalidArgument');
          expect(err.message).toMatch(/bound/);
          p.dispose();
          return;
        }
        let outputs: unknown[];
        try {
          outputs = await p.execute(method, inputs);
        } catch (err) {
          // XNNPACK nodes the backend does not run yet (quantized paths) must say so.
          expect(delegated, String(err)).toBe(true);
          expect(err).toBeInstanceOf(ExecuTorchError);
          expect((err as ExecuTorchError).code).toBe('NotSupported');
          expect((err as ExecuTorchError).message).toMatch(/XnnpackBackend/);
          report.push(`${file} ${method} [${c.name}]: not run: ${(err as Error).message.split(': ').slice(-1)[0]}`);
          p.dispose();
          return;
        }
        const rtol = delegated ? XNNPACK_RTOL : PORTABLE_RTOL;
        expect(outputs.length).toBe(c.outputs!.length);
        let worst = 0;
        c.outputs!.forEach((ref, i) => {
          const cmp = compareOutput(outputs[i], ref, rtol);
          expect(cmp.mismatches, `output ${i}`).toEqual([]);
          worst = Math.max(worst, cmp.maxRelError);
        });
        report.push(`${file} ${method} [${c.name}]: max rel error ${worst.toExponential(2)}${delegated ? ' (XNNPACK)' : ''}`);
        p.dispose();
      });
    }
  }
});

describe('legacy inline constants (no official reference: the 1.5.1 runtime refuses them)', () => {
  const run = async (file: string, inputs: Tensor[]): Promise<number[]> => {
    const p = await loadWild(file);
    const [out] = await p.execute('forward', inputs);
    p.dispose();
    return Array.from((out as Tensor<'float32'>).data);
  };
  const f32 = (v: number[], shape: number[]): Tensor => new Tensor(new Float32Array(v), shape);

  it('hello_world_add: a + b', async () => {
    expect(await run('barakugav__executorch-rs/examples__hello_world_add__model@55a66539b5.pte', [f32([1.5], [1]), f32([2.25], [1])])).toEqual([3.75]);
  });
  it('node-executorch mul: a * b', async () => {
    const a = [1, 2, 3, 4, 5, 6];
    const b = [0.5, -1, 2, 0, 3, -2];
    expect(await run('mybigday__node-executorch/lib____fixtures____mul@4f4fb351a0.pte', [f32(a, [3, 2]), f32(b, [3, 2])])).toEqual(a.map((x, i) => Math.fround(x * b[i])));
  });
  it('ModuleLinear-no-constant-segment: x * a + b with its stored constants', async () => {
    // The program computes a*x + b for 2x2 constants a, b that live in constant_buffer.
    const p = await loadWild('pytorch__executorch/test__models__deprecated__ModuleLinear-no-constant-segment@8085ceaf09.pte');
    const zero = await p.execute('forward', [f32([0, 0, 0, 0], [2, 2])]);
    const one = await p.execute('forward', [f32([1, 1, 1, 1], [2, 2])]);
    const two = await p.execute('forward', [f32([2, 2, 2, 2], [2, 2])]);
    const [b, ab, a2b] = [zero, one, two].map(([t]) => Array.from((t as Tensor<'float32'>).data));
    // Linear in x: f(2) - f(1) == f(1) - f(0) == a, elementwise.
    for (let i = 0; i < 4; i++) expect(a2b[i] - ab[i]).toBeCloseTo(ab[i] - b[i], 6);
    expect(b.some((v) => v !== 0)).toBe(true);
    p.dispose();
  });
  it('2023-12 runner model: mean, eq, where on constants', async () => {
    const p = await loadWild('pytorch__executorch/extension__runner__module__test__resources__model@10817eb6ce.pte');
    expect(p.methodMeta('forward').operators.map((o) => o.name)).toEqual(['aten::mean.out', 'aten::eq.Scalar_out', 'aten::clone.out', 'aten::where.self_out']);
    const [out] = await p.execute('forward', [f32([1, 3], [1, 2])]);
    expect((out as Tensor).shape).toEqual([1]);
    p.dispose();
  });
});

describe('stress_mlp golden (djl-executorch-engine, ExecuTorch 1.3.1)', () => {
  it('matches the golden sums and samples of all 8 cases', async () => {
    const goldenPath = path.join(pteWildDir(), 'corey-cole__djl-executorch-engine/golden/models__stress__stress_golden.json');
    const golden = JSON.parse(fs.readFileSync(goldenPath, 'utf8')) as {
      config: { batch: number; hidden: number; ramp: number };
      sampleStride: number;
      cases: { name: string; v1: number; v2: number; sum: number; absSum: number; maxAbs: number; samples: number[] }[];
    };
    const p = await loadWild('corey-cole__djl-executorch-engine/src__test__resources__models__stress__stress_mlp@6d3450d6d3.pte');
    const { batch, hidden, ramp } = golden.config;
    const build = (v: number): Tensor => {
      const d = new Float32Array(batch * hidden);
      for (let i = 0; i < d.length; i++) d[i] = Math.fround(Math.fround(i) * Math.fround(ramp) + Math.fround(v));
      return new Tensor(d, [batch, hidden]);
    };
    for (const c of golden.cases) {
      let out: Tensor<'float32'>;
      try {
        [out] = (await p.execute('forward', [build(c.v1), build(c.v2)])) as Tensor<'float32'>[];
      } catch (err) {
        // Only acceptable while the XNNPACK backend lacks a node this program uses.
        expect((err as ExecuTorchError).code).toBe('NotSupported');
        return;
      }
      let sum = 0;
      let absSum = 0;
      for (const v of out.data) {
        sum += v;
        absSum += Math.abs(v);
      }
      expect(Math.abs(sum - c.sum) / c.absSum, c.name).toBeLessThan(XNNPACK_RTOL);
      expect(Math.abs(absSum - c.absSum) / c.absSum, c.name).toBeLessThan(XNNPACK_RTOL);
      c.samples.forEach((s, k) => expect(Math.abs(out.data[k * golden.sampleStride] - s), `${c.name}[${k}]`).toBeLessThanOrEqual(XNNPACK_RTOL * c.maxAbs));
    }
    p.dispose();
  });
});

describe('bundled program (.bpte)', () => {
  it('is refused with NotSupported, naming the format', async () => {
    const err = await errorOf(Program.load(path.join(pteWildDir(), 'pytorch__executorch/extension__module__test__resources__bundled_program@6a9ccf1882.bpte')));
    expect(err.code).toBe('NotSupported');
    expect(err.message).toMatch(/bundled program/);
  });
});

describe('summary', () => {
  it('prints the error per program', () => {
    console.log(report.sort().join('\n'));
  });
});
