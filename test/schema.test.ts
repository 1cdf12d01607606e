// Our .fbs files are written by hand from the reference: their vtable slots
// must equal the official schemas' (shared/reference/schema-slots.md), or
// files would be misread silently.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { repoRoot, sharedDir } from './helpers/paths';

type Slots = Map<string, Map<string, number>>;

function referenceSlots(section: string): Slots {
  const md = fs.readFileSync(path.join(sharedDir(), 'reference', 'schema-slots.md'), 'utf8');
  const start = md.indexOf(`## ${section}`);
  const block = md.slice(start, md.indexOf('```', md.indexOf('```', start) + 3));
  const slots: Slots = new Map();
  for (const line of block.split('\n')) {
    const m = /^(\w+): ?(.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = new Map<string, number>();
    for (const f of m[2].matchAll(/(\w+)(?::[^@;]*)?@(\d+)/g)) fields.set(f[1].toUpperCase(), Number(f[2]));
    slots.set(m[1], fields);
  }
  return slots;
}

function generatedSlots(header: string): Slots {
  const file = path.join(repoRoot, 'build', 'generated', header);
  const src = fs.readFileSync(file, 'utf8');
  const slots: Slots = new Map();
  for (const m of src.matchAll(/struct (\w+) FLATBUFFERS_FINAL_CLASS : private flatbuffers::Table \{([\s\S]*?)\n\};/g)) {
    const fields = new Map<string, number>();
    for (const f of m[2].matchAll(/VT_(\w+) = (\d+)/g)) fields.set(f[1], Number(f[2]));
    slots.set(m[1], fields);
  }
  return slots;
}

describe.each([
  ['program_fbs', 'program_generated.h'],
  ['xnnpack_runtime_schema', 'xnnpack_generated.h'],
  ['flat_tensor', 'flat_tensor_generated.h'],
])('schema %s', (section, header) => {
  it('has the official vtable slot for every field', () => {
    const ref = referenceSlots(section);
    const ours = generatedSlots(header);
    expect(ref.size).toBeGreaterThan(3);
    for (const [table, fields] of ref) {
      const mine = ours.get(table);
      expect(mine, `table ${table}`).toBeDefined();
      for (const [field, slot] of fields) {
        // Deprecated fields generate no accessor; their slot is still reserved by position.
        if (!mine!.has(field) && /^SCALE_BF16$/.test(field)) continue;
        expect(mine!.get(field), `${table}.${field}`).toBe(slot);
      }
    }
  });
});
