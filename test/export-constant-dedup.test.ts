// Constant dedup by content: equal bytes from different sources (two methods, two
// weights) land once in the constant segment; different bytes stay apart.
import { describe, expect, it } from 'vitest';
import { Graph } from '../lib/export/graph/graph';
import { add } from '../lib/export/graph/ops/elementwise';
import { lowerProgram } from '../lib/export/lower/lower-program';
import { constantAliases } from '../lib/export/passes/constant-dedup';
import { bytesSource } from '../lib/export/pte/program-spec';

function graph(name: string, constants: Float32Array[]): Graph {
  const g = new Graph(name);
  let x = g.input('x', 'float32', [4]);
  constants.forEach((c, i) => (x = add(g, x, g.constant(`${name}.c${i}`, 'float32', [4], bytesSource(new Uint8Array(c.slice().buffer))))));
  g.outputs = [x];
  return g;
}

describe('constant dedup', () => {
  const a = new Float32Array([1, 2, 3, 4]);
  const b = new Float32Array([1, 2, 3, 5]);

  it('stores equal bytes once across graphs and within one', async () => {
    const graphs = [graph('first', [a, b, a]), graph('second', [b, a])];
    const aliases = await constantAliases(graphs);
    expect(aliases.size).toBe(3);
    const spec = lowerProgram({ graphs, constantMethods: {}, constantAliases: aliases });
    // Entry 0 is the schema's "no data"; then one entry per distinct content.
    expect(spec.constants).toHaveLength(3);
    const contents = await Promise.all(spec.constants.slice(1).map(async (s) => Array.from(new Float32Array((await s.read()).slice().buffer))));
    expect(contents).toEqual([Array.from(a), Array.from(b)]);
    for (const m of spec.methods) {
      const used = m.values.flatMap((v) => (v.kind === 'tensor' && v.tensor.constant !== undefined ? [v.tensor.constant] : []));
      expect(new Set(used)).toEqual(new Set([1, 2]));
    }
  });

  it('without aliases every source is its own entry', () => {
    const spec = lowerProgram({ graphs: [graph('first', [a, a])], constantMethods: {} });
    expect(spec.constants).toHaveLength(3);
  });
});
