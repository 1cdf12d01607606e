// Constant dedup by content: constants the program's kernels read (what stays out of
// the XNNPACK payloads, whose named data is already keyed by sha256) are hashed, and
// equal bytes are written once to the constant segment, whichever graph, weight or
// table they came from. Runs after partitioning, reading one constant at a time.
import { Graph, nodeReads } from '../graph/graph';
import { ByteSource } from '../pte/program-spec';
import { sha256HexAsync } from './content-hash';

/** For each constant source whose bytes another source already has, that source. */
export async function constantAliases(graphs: readonly Graph[]): Promise<Map<ByteSource, ByteSource>> {
  const first = new Map<string, ByteSource>();
  const aliases = new Map<ByteSource, ByteSource>();
  const seen = new Set<ByteSource>();
  for (const g of graphs) {
    for (const n of g.nodes) {
      for (const id of nodeReads(n)) {
        const v = g.values[id];
        if (v.kind !== 'tensor' || v.role !== 'constant' || !v.source || seen.has(v.source)) continue;
        seen.add(v.source);
        const key = `${v.source.size}:${await sha256HexAsync(await v.source.read())}`;
        const earlier = first.get(key);
        if (earlier) aliases.set(v.source, earlier);
        else first.set(key, v.source);
      }
    }
  }
  return aliases;
}
