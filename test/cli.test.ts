// `executorch-node inspect` on every program in the wild fixtures.
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { pteWildDir, repoRoot, wildFiles } from './helpers/paths';
import { pairedDataFile } from './helpers/official';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

function inspect(file: string, json: boolean): string {
  const args = [cli, 'inspect', path.join(pteWildDir(), file)];
  const data = pairedDataFile(file);
  if (data && !data.includes('linear@')) args.push('--data', path.join(pteWildDir(), data));
  if (json) args.push('--json');
  return execFileSync(process.execPath, args, { maxBuffer: 64 << 20 }).toString();
}

describe('executorch-node inspect', () => {
  it.each(wildFiles(/\.pte$/))('%s', (file) => {
    const text = inspect(file, false);
    expect(text).toMatch(/methods: \d+/);
    const report = JSON.parse(inspect(file, true));
    expect(report.methods.length).toBeGreaterThan(0);
    for (const m of report.methods) {
      expect(text).toContain(`  ${m.name}: `);
      for (const d of m.delegates) {
        expect(text).toContain(d.id);
        if (d.id === 'XnnpackBackend') {
          expect(d.error).toBeUndefined();
          expect(Object.keys(d.graph.nodeCounts).length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('prints XNNPACK node counts and named data', () => {
    const text = inspect('corey-cole__djl-executorch-engine/native__spike__conv@a7e77908b2.pte', false);
    expect(text).toMatch(/XnnpackBackend \(segment \d+, [\d.]+ (B|KiB)\) XNNPACK XN01: Conv2d x1, StaticTranspose x2/);
    expect(text).toMatch(/named data: 2/);
  });

  it('fails with a clear message and exit code 2 on a bad file', () => {
    const r = spawnSync(process.execPath, [cli, 'inspect', path.join(pteWildDir(), 'pytorch__executorch/docs__source__tutorials_source__etdump@2b78ce5fee.etdp')]);
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/error \[InvalidProgram\]: .*ET12/);
  });
});
