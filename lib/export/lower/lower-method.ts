// Graph -> MethodSpec: every graph value becomes an EValue (tensors with their
// planned offsets or constant data, symbolic ints as Int placeholders the kernels
// fill in), every literal argument an EValue of its own, every node a KernelCall
// (or a DelegateCall for a partition) whose arguments are its args then its outputs.
import { ExecuTorchError } from '../../runtime/errors';
import { Arg, Graph, Node, TensorValue, dtypeBytes, isSym, maxDim, maxNumel, nodeReads } from '../graph/graph';
import { planMemory, PlanItem } from '../passes/memory-plan';
import { DelegateSpec, EValueSpec, InstructionSpec, MethodSpec, OperatorSpec, TensorSpec } from '../pte/program-spec';
import { ConstantTable } from './constant-table';

/** A node standing for a delegated partition (see passes/xnnpack-partition). */
export const DELEGATE_OP = 'etn::delegate';

export interface DelegateAttrs {
  delegate: DelegateSpec;
}

export function lowerMethod(g: Graph, constants: ConstantTable): MethodSpec {
  const values: EValueSpec[] = [];
  const operators: OperatorSpec[] = [];
  const opIndex = new Map<string, number>();
  const delegates: DelegateSpec[] = [];
  const instructions: InstructionSpec[] = [];

  // Graph values keep their ids as EValue indices. Values no instruction touches any
  // more (weights a delegate payload holds, partition internals) become None, so their
  // data is not written twice.
  const used = usedValues(g);
  for (const v of g.values) {
    if (!used.has(v.id)) values.push({ kind: 'null' });
    else if (v.kind === 'symint') values.push({ kind: 'int', value: 0 });
    else values.push({ kind: 'tensor', tensor: tensorSpec(v, constants) });
  }
  const literal = (spec: EValueSpec): number => values.push(spec) - 1;
  const argIndex = (a: Arg): number => {
    if ('value' in a) return a.value;
    if ('int' in a) return literal({ kind: 'int', value: a.int });
    if ('float' in a) return literal({ kind: 'double', value: a.float });
    if ('bool' in a) return literal({ kind: 'bool', value: a.bool });
    if ('str' in a) return literal({ kind: 'string', value: a.str });
    if ('none' in a) return literal({ kind: 'null' });
    if ('ints' in a)
      return literal({ kind: 'intList', items: a.ints.map((x) => (typeof x === 'number' ? literal({ kind: 'int', value: x }) : x.id)) });
    return literal({ kind: 'tensorList', items: [...a.tensors] });
  };

  for (const n of g.nodes) {
    // Out-variant ops list their out tensor(s) twice: as the out argument(s) and as the
    // return value, a tensor list when there are several (how ExecuTorch's emitter
    // writes them); functional ops (sym_size, _local_scalar_dense, executorch_prim::*)
    // only as the return value.
    const outVariant = n.op !== DELEGATE_OP && isOutVariant(n.overload);
    const returns = !outVariant ? [] : n.outputs.length > 1 ? [literal({ kind: 'tensorList', items: [...n.outputs] })] : n.outputs;
    const args = [...n.args.map(argIndex), ...n.outputs, ...returns];
    if (n.op === DELEGATE_OP) {
      delegates.push((n.attrs as unknown as DelegateAttrs).delegate);
      instructions.push({ kind: 'delegate', delegate: delegates.length - 1, args });
    } else {
      instructions.push({ kind: 'kernel', op: operatorIndex(n, operators, opIndex), args });
    }
  }

  const plan = planMemory(planItems(g));
  for (const [id, offset] of plan.offsets) {
    const spec = values[id];
    if (spec.kind === 'tensor') spec.tensor.allocation = { memoryId: 1, offset };
  }
  const outputs = g.outputs.map((o) => o.id);
  return {
    name: g.name,
    values,
    inputs: g.inputs.map((i) => i.id),
    outputs,
    chains: [{ inputs: g.inputs.map((i) => i.id), outputs, instructions }],
    operators,
    delegates,
    nonConstBufferSizes: plan.size > 0 ? [0, plan.size] : [0],
  };
}

function usedValues(g: Graph): Set<number> {
  const used = new Set<number>([...g.inputs.map((t) => t.id), ...g.outputs.map((v) => v.id)]);
  for (const n of g.nodes) for (const id of [...nodeReads(n), ...n.outputs]) used.add(id);
  return used;
}

function isOutVariant(overload: string): boolean {
  return overload === 'out' || overload.endsWith('_out') || overload.startsWith('out_');
}

function operatorIndex(n: Node, operators: OperatorSpec[], index: Map<string, number>): number {
  const key = `${n.op}.${n.overload}`;
  let i = index.get(key);
  if (i === undefined) {
    i = operators.push({ name: n.op, overload: n.overload }) - 1;
    index.set(key, i);
  }
  return i;
}

function tensorSpec(t: TensorValue, constants: ConstantTable): TensorSpec {
  const spec: TensorSpec = {
    dtype: t.dtype,
    sizes: t.shape.map(maxDim),
    dynamism: t.shape.some(isSym) ? 'dynamic_bound' : 'static',
  };
  if (t.role === 'constant') {
    if (!t.source) throw new ExecuTorchError('Internal', `constant ${t.name} has no data`);
    spec.constant = constants.add(t.source);
  }
  return spec;
}

// Lifetimes of the tensors the method must place in planned memory: everything a
// kernel writes, plus state. Inputs are bound by the caller; constants live in the file.
function planItems(g: Graph): PlanItem[] {
  const start = new Map<number, number>();
  const end = new Map<number, number>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) if (!start.has(o)) start.set(o, i);
    for (const id of nodeReads(n)) end.set(id, i);
  });
  const outputs = new Set(g.outputs.map((o) => o.id));
  const items: PlanItem[] = [];
  for (const v of g.values) {
    if (v.kind !== 'tensor' || v.role === 'input' || v.role === 'constant') continue;
    const whole = v.role === 'state' || outputs.has(v.id);
    if (!whole && !start.has(v.id)) continue;  // never written: nothing to place
    items.push({
      id: v.id,
      bytes: maxNumel(v.shape) * dtypeBytes(v.dtype),
      start: whole ? -1 : start.get(v.id)!,
      end: whole ? Infinity : (end.get(v.id) ?? start.get(v.id)!),
    });
  }
  return items;
}

