// binding.gyp builds the same addon as CMakeLists.txt: build it with node-gyp
// and run the runtime test files against that binary.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/paths';

const RUNTIME_TESTS = ['test/api.test.ts', 'test/instructions.test.ts', 'test/programs.test.ts', 'test/hostile.test.ts'];

describe('node-gyp build', () => {
  it('builds from binding.gyp and passes the runtime tests', () => {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-gyp.js')], { cwd: repoRoot, stdio: 'pipe' });
    const binary = path.join(repoRoot, 'build-gyp', 'Release', 'executorch_node.node');
    expect(fs.existsSync(binary)).toBe(true);
    const vitest = require.resolve('vitest/vitest.mjs');
    const files = RUNTIME_TESTS.filter((f) => fs.existsSync(path.join(repoRoot, f)));
    const out = execFileSync(process.execPath, [vitest, 'run', ...files], {
      cwd: repoRoot,
      env: { ...process.env, EXECUTORCH_NODE_BINARY: binary, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: 'pipe',
    }).toString();
    expect(out).toMatch(/Test Files\s+\d+ passed/);
    expect(out).not.toMatch(/failed/);
  }, 600_000);
});
