import * as fs from 'fs';
import * as path from 'path';

export const repoRoot = path.join(__dirname, '..', '..');

/** shared/ sits beside the repository (on CI: beside the clean clone). */
export function sharedDir(): string {
  const candidates = [process.env.EXECUTORCH_NODE_SHARED, path.join(repoRoot, '..', 'shared')].filter(Boolean) as string[];
  for (const c of candidates) if (fs.existsSync(path.join(c, 'fixtures', 'pte-wild'))) return c;
  throw new Error(`shared/ fixtures not found (looked in ${candidates.join(', ')}); set EXECUTORCH_NODE_SHARED`);
}

export const pteWildDir = (): string => path.join(sharedDir(), 'fixtures', 'pte-wild');

/** Every artifact under pte-wild, as paths relative to it. */
export function wildFiles(ext?: RegExp): string[] {
  const root = pteWildDir();
  const out: string[] = [];
  for (const dir of fs.readdirSync(root).sort()) {
    const full = path.join(root, dir);
    if (dir.startsWith('_') || !fs.statSync(full).isDirectory()) continue;
    for (const f of fs.readdirSync(full).sort()) {
      if (!ext || ext.test(f)) out.push(`${dir}/${f}`);
    }
  }
  return out;
}
