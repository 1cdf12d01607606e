// Partitioning: runs of consecutive nodes a backend supports become one delegate
// call. A partition's inputs are the non-constant values it reads that something
// outside produced (graph inputs, earlier kernels, state); its outputs are the values
// it produces that later nodes or the method's outputs read. Constants it reads go
// into the backend's payload. Values produced and consumed inside never reach
// planned memory.
import { Graph, Node, TensorValue, nodeReads } from '../graph/graph';
import { DELEGATE_OP, DelegateAttrs } from '../lower/lower-method';
import { DelegateSpec } from '../pte/program-spec';

export interface Partition {
  nodes: Node[];
  inputs: TensorValue[];
  outputs: TensorValue[];
}

export interface Partitioner {
  /** Whether the backend can run this node (given the graph, for operand facts). */
  supports(g: Graph, n: Node): boolean;
  /** The delegate for one partition. */
  lower(g: Graph, p: Partition): Promise<DelegateSpec>;
}

/** Replaces each maximal run of supported nodes with one delegate node. */
export async function partition(g: Graph, backend: Partitioner): Promise<void> {
  const runs = supportedRuns(g, backend);
  if (runs.length === 0) return;
  const readers = lastReaders(g);
  const outputIds = new Set(g.outputs.map((o) => o.id));
  const replaced: Node[] = [];
  let next = 0;
  for (const [start, end] of runs) {
    replaced.push(...g.nodes.slice(next, start));
    const nodes = g.nodes.slice(start, end);
    const p = describe(g, nodes, end, readers, outputIds);
    const attrs: DelegateAttrs = { delegate: await backend.lower(g, p) };
    replaced.push({
      op: DELEGATE_OP,
      overload: '',
      args: p.inputs.map((t) => ({ value: t.id })),
      outputs: p.outputs.map((t) => t.id),
      attrs: attrs as unknown as Record<string, unknown>,
    });
    next = end;
  }
  replaced.push(...g.nodes.slice(next));
  g.nodes.splice(0, g.nodes.length, ...replaced);
}

function supportedRuns(g: Graph, backend: Partitioner): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  g.nodes.forEach((n, i) => {
    const ok = backend.supports(g, n);
    if (ok && start < 0) start = i;
    if (!ok && start >= 0) {
      runs.push([start, i]);
      start = -1;
    }
  });
  if (start >= 0) runs.push([start, g.nodes.length]);
  return runs;
}

/** For each value, the index of the last node that reads it. */
function lastReaders(g: Graph): Map<number, number> {
  const last = new Map<number, number>();
  g.nodes.forEach((n, i) => {
    for (const id of nodeReads(n)) last.set(id, i);
  });
  return last;
}

function describe(g: Graph, nodes: Node[], end: number, readers: Map<number, number>, outputIds: Set<number>): Partition {
  const produced = new Set<number>();
  const inputs: TensorValue[] = [];
  const seen = new Set<number>();
  for (const n of nodes) {
    for (const id of nodeReads(n)) {
      const v = g.values[id];
      if (v.kind !== 'tensor' || v.role === 'constant' || produced.has(id) || seen.has(id)) continue;
      seen.add(id);
      inputs.push(v);
    }
    for (const o of n.outputs) produced.add(o);
  }
  const outputs = [...produced]
    .filter((id) => outputIds.has(id) || (readers.get(id) ?? -1) >= end)
    .map((id) => g.tensorById(id));
  return { nodes, inputs, outputs };
}
