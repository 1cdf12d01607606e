// Runs the native microkernel test executable (native/tests/microkernel_test.cpp,
// built by `npm run build:native` as etn_microkernel_tests) once per ISA level this
// machine supports, selected with EXECUTORCH_NODE_ISA. Each run checks the qd8
// quantization and the qb4w / qc4w / qc8w GEMM and GEMV kernels of that level
// against a float64 reference on odd shapes (K not a multiple of the block, N = 1,
// N prime, M = 1 and M > 1). The f32 x qc8w (weight-only int8) kernels have their own
// executable, etn_f32_qc8w_tests (native/tests/f32_qc8w_test.cpp), run the same way.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/paths';

function candidates(name: string, envPath: string | undefined): string[] {
  return [
    envPath, // explicit path, e.g. a build elsewhere
    path.join(repoRoot, 'build', 'Release', name),
    path.join(repoRoot, 'build', name),
    path.join(repoRoot, 'build', 'native', 'tests', name),
  ].filter((p): p is string => Boolean(p));
}

function findBinary(name = 'etn_microkernel_tests', envPath = process.env.ETN_MICROKERNEL_TESTS): string {
  const all = candidates(name, envPath);
  const found = all.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(`${name} not found (looked in ${all.join(', ')}); run npm run build:native`);
  }
  return found;
}

const findF32Qc8wBinary = (): string => findBinary('etn_f32_qc8w_tests', process.env.ETN_F32_QC8W_TESTS);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], isa?: string, binary = findBinary()): Run {
  const env = { ...process.env };
  delete env.EXECUTORCH_NODE_ISA;
  if (isa !== undefined) env.EXECUTORCH_NODE_ISA = isa;
  const r = spawnSync(binary, args, { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The "N passed, M failed" summary, with the failing lines on mismatch. */
function expectPassed(r: Run): number {
  const m = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout);
  const failures = r.stdout.split('\n').filter((l) => l.startsWith('FAIL')).slice(0, 20).join('\n');
  expect(m, `no summary line in:\n${r.stdout}\n${r.stderr}`).not.toBeNull();
  expect(Number(m![2]), failures).toBe(0);
  expect(r.status).toBe(0);
  return Number(m![1]);
}

const ALL_ISAS = ['avx512', 'avx2', 'scalar'];
const supported = ((): string[] => {
  try {
    return run(['--list-isas'])
      .stdout.split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
})();

describe('microkernels (etn_microkernel_tests)', () => {
  it('lists the ISA levels this CPU supports', () => {
    findBinary();
    expect(supported).toContain('scalar');
    for (const isa of supported) expect(ALL_ISAS).toContain(isa);
  });

  for (const isa of ALL_ISAS) {
    const onCpu = supported.includes(isa);
    const title = onCpu
      ? `EXECUTORCH_NODE_ISA=${isa}: every kernel matches the float64 reference`
      : `EXECUTORCH_NODE_ISA=${isa} (not on this CPU): falls back with a warning`;
    it(title, () => {
      if (!onCpu) {
        const r = run([], isa);
        expect(r.stderr).toMatch(new RegExp(`EXECUTORCH_NODE_ISA=${isa} but this CPU/OS does not support it`));
        expectPassed(r);
        return;
      }
      const r = run([], isa);
      expect(r.stdout).toMatch(new RegExp(`^testing isa: ${isa}$`, 'm'));
      expect(r.stderr).not.toMatch(/warning/);
      const passed = expectPassed(r);
      expect(passed).toBeGreaterThan(500);
    });
  }

  it('an unknown EXECUTORCH_NODE_ISA value warns and uses the best level', () => {
    const r = run([], 'sse9');
    expect(r.stderr).toMatch(/EXECUTORCH_NODE_ISA=sse9 is not one of avx512, avx2, scalar, auto/);
    expect(r.stdout).toMatch(new RegExp(`^testing isa: ${supported[0]}$`, 'm'));
    expectPassed(r);
  });

  it('without EXECUTORCH_NODE_ISA tests all supported levels in one run', () => {
    const r = run([]);
    const line = /^testing isa: (.*)$/m.exec(r.stdout);
    expect(line).not.toBeNull();
    expect(line![1].split(' ').sort()).toEqual([...supported].sort());
    expectPassed(r);
  });
});

describe('f32 x qc8w microkernels (etn_f32_qc8w_tests)', () => {
  for (const isa of ALL_ISAS) {
    const onCpu = supported.includes(isa);
    const title = onCpu
      ? `EXECUTORCH_NODE_ISA=${isa}: GEMV and GEMM (M 1..130, odd N and K, bias or not) match the float64 reference`
      : `EXECUTORCH_NODE_ISA=${isa} (not on this CPU): falls back with a warning`;
    it(title, () => {
      const r = run([], isa, findF32Qc8wBinary());
      if (!onCpu) {
        expect(r.stderr).toMatch(new RegExp(`EXECUTORCH_NODE_ISA=${isa} but this CPU/OS does not support it`));
        expectPassed(r);
        return;
      }
      expect(r.stdout).toMatch(new RegExp(`^testing isa: ${isa}$`, 'm'));
      expect(r.stderr).not.toMatch(/warning/);
      // One check per shape: 5 M x 5 N x 6 K, with and without bias (the largest once), and the rest.
      expect(expectPassed(r)).toBeGreaterThan(250);
    });
  }

  it('without EXECUTORCH_NODE_ISA tests all supported levels in one run', () => {
    const r = run([], undefined, findF32Qc8wBinary());
    const line = /^testing isa: (.*)$/m.exec(r.stdout);
    expect(line).not.toBeNull();
    expect(line![1].split(' ').sort()).toEqual([...supported].sort());
    expectPassed(r);
  });
});
